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

The op classes are small ``slots`` dataclasses, immutable by convention (a
frozen dataclass costs more to build): one is created per value, and one per
growing string per chunk, so they must be cheap. Equality compares the class
and fields; ``SetScalar`` also compares the value's type (JSON ``1`` is not
``true``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

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


def _positional_repr(op: Any) -> str:
    """``StartObject(('a',))``: fields by position, as the ops are built."""
    shown = ", ".join(repr(getattr(op, field.name)) for field in fields(op))
    return f"{type(op).__name__}({shown})"


@dataclass(slots=True, unsafe_hash=True, repr=False)
class StartObject:
    """An empty object now exists at ``path``."""

    path: Path

    __repr__ = _positional_repr


@dataclass(slots=True, unsafe_hash=True, repr=False)
class StartArray:
    """An empty array now exists at ``path``."""

    path: Path

    __repr__ = _positional_repr


@dataclass(slots=True, unsafe_hash=True, repr=False)
class StartString:
    """An empty, still growing string now exists at ``path``."""

    path: Path

    __repr__ = _positional_repr


@dataclass(slots=True, unsafe_hash=True, repr=False)
class AppendString:
    """Extend the open string at ``path`` by ``text`` (never empty)."""

    path: Path
    text: str

    __repr__ = _positional_repr


@dataclass(slots=True, eq=False, repr=False)
class SetScalar:
    """A complete scalar ``value`` at ``path``."""

    path: Path
    value: Scalar

    __repr__ = _positional_repr

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


@dataclass(slots=True, unsafe_hash=True, repr=False)
class Close:
    """The container or string at ``path`` is complete."""

    path: Path

    __repr__ = _positional_repr


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
