"""Apply path ops to one live document and track which paths are complete.

The document is plain ``dict`` / ``list`` / scalars, mutated in place, so a
consumer holding it sees it fill in. Applying an op costs O(1) (plus the text
it carries), never a walk from the root: ops arrive in document order, so the
open containers are kept on a stack and the op's target is always on top.

Completeness needs no bookkeeping per value: ops arrive in document order,
so every value that has started is complete except the open containers on
the stack and the one open string. Memory stays the size of the document.

Python strings are immutable, so a growing string is kept as a list of parts
and joined only when someone reads ``value``: appending stays O(chunk)
however long the string gets, and reading costs the length of the one string
still open.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._ops import AppendString, Close, Op, Path, SetScalar, StartArray, StartObject, StartString

__all__ = ["Assembler"]


class Assembler:
    """Builds the live partial document from a parser's ops.

    >>> from rill.structured import JsonStreamParser
    >>> parser, doc = JsonStreamParser(), Assembler()
    >>> doc.apply(parser.feed('{"tags": ["a", "b'))
    [('tags', 0)]
    >>> doc.value
    {'tags': ['a', 'b']}
    >>> doc.is_complete(("tags", 1)), doc.done
    (False, False)

    ``apply`` expects ops in the order a parser emits them (it checks their
    depth); paths in ops are what the parser said, not recomputed.
    """

    __slots__ = (
        "_root",
        "_spine",
        "_stack",
        "_str_dirty",
        "_str_key",
        "_str_parent",
        "_str_parts",
        "_str_path",
        "started",
    )

    def __init__(self) -> None:
        self._root: Any = None
        self._stack: list[dict[str, Any] | list[Any]] = []
        # _spine[d] is the key of _stack[d + 1] inside _stack[d]: the path of
        # _stack[d] is tuple(_spine[:d]).
        self._spine: list[str | int] = []
        # The open string, if any: where it lives and its text so far.
        self._str_parts: list[str] | None = None
        self._str_parent: dict[str, Any] | list[Any] | None = None
        self._str_key: str | int = 0
        self._str_path: Path = ()
        self._str_dirty = False
        self.started = False
        """True once the top-level value has begun."""

    @property
    def value(self) -> Any:
        """The live document; ``None`` until the top-level value starts."""
        if self._str_dirty:
            self._flush_string()
        return self._root

    @property
    def completed(self) -> frozenset[Path]:
        """Every path whose value is complete.

        Computed by walking the document, so O(document size) per access; use
        ``is_complete`` or the paths ``apply`` returns when streaming.
        """
        if not self.started:
            return frozenset()
        out: set[Path] = set()
        todo: list[tuple[Path, Any]] = [((), self._root)]
        while todo:
            path, node = todo.pop()
            if not self._is_open(path):
                out.add(path)
            if type(node) is dict:
                todo.extend(((*path, k), v) for k, v in node.items())
            elif type(node) is list:
                todo.extend(((*path, i), v) for i, v in enumerate(node))
        return frozenset(out)

    @property
    def done(self) -> bool:
        """True once the whole document is complete."""
        return self.started and not self._stack and self._str_parts is None

    def is_complete(self, path: Path) -> bool:
        """Whether the value at ``path`` exists and is complete. O(len(path))."""
        if not self.started:
            return False
        node = self._root
        for key in path:
            if type(node) is dict:
                if key not in node:
                    return False
            elif type(node) is list:
                if type(key) is not int or not 0 <= key < len(node):
                    return False
            else:
                return False
            node = node[key]
        return not self._is_open(path)

    def _is_open(self, path: Path) -> bool:
        """Whether an existing ``path`` is an open container or the open string."""
        depth = len(path)
        if depth < len(self._stack):
            return all(a == b for a, b in zip(path, self._spine, strict=False))
        return self._str_parts is not None and path == self._str_path

    @property
    def open_string_path(self) -> Path | None:
        """The path of the string still growing, if there is one."""
        return self._str_path if self._str_parts is not None else None

    def _flush_string(self) -> None:
        parts = self._str_parts
        assert parts is not None
        text = "".join(parts)
        parts[:] = (text,)
        parent = self._str_parent
        if parent is None:
            self._root = text
        else:
            parent[self._str_key] = text  # type: ignore[index]
        self._str_dirty = False

    def apply(self, ops: Iterable[Op]) -> list[Path]:
        """Apply ``ops`` in order; return the paths they completed, in order."""
        stack = self._stack
        spine = self._spine
        done: list[Path] = []
        for op in ops:
            if type(op) is AppendString:
                if self._str_parts is None:
                    raise ValueError(f"{op!r}: no string is open")
                self._str_parts.append(op.text)
                self._str_dirty = True
                continue
            t = type(op)
            if t is Close:
                path = op.path
                if self._str_parts is not None:
                    if self._str_dirty:
                        self._flush_string()
                    self._str_parts = None
                else:
                    if len(path) != len(stack) - 1:
                        raise ValueError(f"{op!r} does not close the innermost container")
                    stack.pop()
                    if spine:
                        spine.pop()
                done.append(path)
                continue

            # The remaining ops put a new value at op.path, inside the top container.
            path = op.path
            if len(path) != len(stack) or self._str_parts is not None:
                raise ValueError(f"{op!r} is out of order")
            if type(op) is SetScalar:
                value: Any = op.value
            elif t is StartObject:
                value = {}
            elif t is StartArray:
                value = []
            elif t is StartString:
                value = ""
            else:
                raise TypeError(f"not an op: {op!r}")
            if stack:
                parent = stack[-1]
                key = path[-1]
                if type(parent) is list:
                    parent.append(value)
                else:
                    parent[key] = value  # type: ignore[index]
            else:
                parent = None
                key = 0
                self._root = value
                self.started = True
            if t is SetScalar:
                done.append(path)
            elif t is StartString:
                self._str_parts = []
                self._str_parent = parent
                self._str_key = key
                self._str_path = path
            else:
                if stack:
                    spine.append(key)
                stack.append(value)
        return done
