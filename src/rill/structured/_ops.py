"""The path operations that ``JsonStreamParser`` emits and ``Assembler`` applies.

A path is a tuple of object keys (``str``) and array indices (``int``) from the
root; the root itself is ``()``. Every value of a document is announced
exactly once, in document order:

- ``StartObject(path)`` / ``StartArray(path)``: an empty container now exists
  at ``path``; its members follow, then ``Close(path)``.
- ``SetScalar(path, value)``: a complete value at ``path``: a number, ``true``,
  ``false``, ``null``, or a string that began and ended within one ``feed()``.
- ``StartString(path)``: an empty string exists at ``path``; it grows by
  ``AppendString(path, text)`` (at most one per string per ``feed()``) and ends
  with ``Close(path)``.

So a consumer learns that the value at ``path`` is complete from exactly one
``SetScalar`` or ``Close`` op. Splitting the input differently changes only how
strings are delivered; see ``coalesce``.

The op classes are small immutable-by-convention ``__slots__`` objects: one is
created per value, and one per growing string per chunk, so they must be cheap.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AppendString",
    "Close",
    "Op",
    "Path",
    "Scalar",
    "SetScalar",
    "StartArray",
    "StartObject",
    "StartString",
    "coalesce",
]

Path = tuple[str | int, ...]
"""Keys and indices from the root; ``()`` is the root."""

Scalar = str | int | float | bool | None
"""What ``SetScalar`` carries: the values ``json.loads`` gives for JSON scalars."""


class StartObject:
    """An empty object now exists at ``path``."""

    __slots__ = ("path",)
    __match_args__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __eq__(self, other: object) -> bool:
        return type(other) is StartObject and other.path == self.path

    def __hash__(self) -> int:
        return hash((StartObject, self.path))

    def __repr__(self) -> str:
        return f"StartObject({self.path!r})"


class StartArray:
    """An empty array now exists at ``path``."""

    __slots__ = ("path",)
    __match_args__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __eq__(self, other: object) -> bool:
        return type(other) is StartArray and other.path == self.path

    def __hash__(self) -> int:
        return hash((StartArray, self.path))

    def __repr__(self) -> str:
        return f"StartArray({self.path!r})"


class StartString:
    """An empty, still growing string now exists at ``path``."""

    __slots__ = ("path",)
    __match_args__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __eq__(self, other: object) -> bool:
        return type(other) is StartString and other.path == self.path

    def __hash__(self) -> int:
        return hash((StartString, self.path))

    def __repr__(self) -> str:
        return f"StartString({self.path!r})"


class AppendString:
    """Extend the open string at ``path`` by ``text`` (never empty)."""

    __slots__ = ("path", "text")
    __match_args__ = ("path", "text")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def __eq__(self, other: object) -> bool:
        return type(other) is AppendString and (other.path, other.text) == (self.path, self.text)

    def __hash__(self) -> int:
        return hash((AppendString, self.path, self.text))

    def __repr__(self) -> str:
        return f"AppendString({self.path!r}, {self.text!r})"


class SetScalar:
    """A complete scalar ``value`` at ``path``."""

    __slots__ = ("path", "value")
    __match_args__ = ("path", "value")

    def __init__(self, path: Path, value: Scalar) -> None:
        self.path = path
        self.value = value

    def __eq__(self, other: object) -> bool:
        # Compare types too: 1 == 1.0 == True in Python, but not in JSON.
        return (
            type(other) is SetScalar
            and other.path == self.path
            and type(other.value) is type(self.value)
            and other.value == self.value
        )

    def __hash__(self) -> int:
        return hash((SetScalar, self.path, type(self.value), self.value))

    def __repr__(self) -> str:
        return f"SetScalar({self.path!r}, {self.value!r})"


class Close:
    """The container or string at ``path`` is complete."""

    __slots__ = ("path",)
    __match_args__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __eq__(self, other: object) -> bool:
        return type(other) is Close and other.path == self.path

    def __hash__(self) -> int:
        return hash((Close, self.path))

    def __repr__(self) -> str:
        return f"Close({self.path!r})"


Op = StartObject | StartArray | StartString | AppendString | SetScalar | Close
"""Any one path operation."""


def coalesce(ops: Iterable[Op]) -> list[Op]:
    """The canonical form of an op sequence, whatever the chunking was.

    Every ``StartString``, ``AppendString``..., ``Close`` run becomes one
    ``SetScalar`` with the whole string, which is what ``feed()`` emits when the
    whole text arrives at once. Meant for tests and for replaying a finished
    stream compactly; only complete strings are folded.
    """
    out: list[Op] = []
    open_path: Path | None = None
    parts: list[str] = []
    pending: list[Op] = []  # the open string's own ops, kept if it never closes
    for op in ops:
        if open_path is not None:
            if type(op) is AppendString and op.path == open_path:
                parts.append(op.text)
                pending.append(op)
                continue
            if type(op) is Close and op.path == open_path:
                out.append(SetScalar(open_path, "".join(parts)))
                open_path = None
                continue
            out.extend(pending)
            open_path = None
        if type(op) is StartString:
            open_path = op.path
            parts = []
            pending = [op]
        else:
            out.append(op)
    if open_path is not None:
        out.extend(pending)
    return out
