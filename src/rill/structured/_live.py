"""One live partial object, updated in place by the parser's ops.

Rebuilding a partial object from the document after every chunk costs the
size of the document each time, so streaming costs its square. Instead
``LivePartial`` keeps one instance of the partial model and changes only what
an op changes. Ops arrive in document order, so an op's parent is always the
innermost open container: a stack of frames, one per open container (its
shape, the live container shown for it, the raw container from the
``Assembler``), finds it in O(1). What each op costs:

- starting a value: O(1); an object creates its partial instance once;
- a string append: O(length of that string) if the string is shown, to
  refresh the visible ``str`` (Python strings are immutable), so one very
  long string streamed in small chunks costs its length squared; a string
  not shown while incomplete (a ``Literal``, a date) costs nothing until it
  completes;
- a value completing: it is validated once, with its field's (or list
  item's) type, O(its size); so a value is validated once for itself and
  once per enclosing value as each completes, O(document size x depth) over
  the stream (a plain ``list[Model]`` keeps its items, validated already);
- closing a nested object or list item replaces its partial twin with the
  validated value, a real instance of its model.

``replay`` turns an assembler's document back into ops, so a one-shot partial
of any document goes through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel

from ._assembler import Assembler
from ._ops import (
    AppendString,
    Close,
    Op,
    Path,
    SetScalar,
    StartArray,
    StartObject,
    StartString,
)

__all__ = [
    "AnyShape",
    "DictShape",
    "ListShape",
    "LiveField",
    "LivePartial",
    "ModelShape",
    "Shape",
    "StrShape",
    "UnionShape",
    "new_partial",
    "replay",
]

Check = Callable[[Any], Any]
"""Validates a complete value and returns what to show; raises if it is invalid."""

COMPLETE = "_rill_complete"
"""The private attribute of a partial instance: the set of its complete fields."""


# ----------------------------------------------------------------------- shapes


class Shape:
    """How to show an incomplete value of some type: by default, not at all
    (``Literal``, ``Enum``, numbers...: only ever shown complete).

    ``on_object`` / ``on_array`` / ``on_string`` are the shapes that show an
    incomplete JSON object / array / string of this type, or ``None``.
    """

    __slots__ = ("on_array", "on_object", "on_string")

    def __init__(self) -> None:
        self.on_object: Shape | None = None
        self.on_array: Shape | None = None
        self.on_string: Shape | None = None


class StrShape(Shape):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.on_string = self


class AnyShape(Shape):
    """Shows what came, as plain JSON values."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.on_object = self.on_array = self.on_string = self


class ListShape(Shape):
    __slots__ = ("check", "item")

    def __init__(self, item: Shape, check: Check) -> None:
        super().__init__()
        self.on_array = self
        self.item = item
        self.check = check  # validates one complete item


class DictShape(Shape):
    __slots__ = ("check", "value")

    def __init__(self, value: Shape, check: Check) -> None:
        super().__init__()
        self.on_object = self
        self.value = value
        self.check = check  # validates one complete value


class UnionShape(Shape):
    """Picks a member by the JSON type of the incomplete value: the first
    member that can show it."""

    __slots__ = ()

    def __init__(self, members: Iterable[Shape]) -> None:
        super().__init__()
        for member in members:
            self.on_object = self.on_object or member.on_object
            self.on_array = self.on_array or member.on_array
            self.on_string = self.on_string or member.on_string


class LiveField(NamedTuple):
    name: str
    key: str  # the key in the JSON document
    shape: Shape
    check: Check  # validates a complete value of this field
    # A complete list in this field validates to its items, which were each
    # validated as they completed (a plain ``list[Model]``): keep the live list.
    items_suffice: bool = False


class ModelShape(Shape):
    __slots__ = ("by_key", "model", "names", "partial_cls")

    def __init__(self, model: type[BaseModel], partial_cls: type[BaseModel]) -> None:
        super().__init__()
        self.on_object = self
        self.model = model
        self.partial_cls = partial_cls
        # Filled in later by set_fields, since a model may contain itself.
        self.by_key: dict[str, LiveField] = {}
        self.names: frozenset[str] = frozenset()

    def set_fields(self, fields: Iterable[LiveField]) -> None:
        self.by_key = {f.key: f for f in fields}
        self.names = frozenset(f.name for f in self.by_key.values())


def new_partial(cls: type[BaseModel]) -> Any:
    """An instance of the partial model ``cls`` with every field ``None``.

    What ``model_construct()`` leaves behind, without its per-field work.
    """
    obj = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(obj, "__dict__", dict.fromkeys(cls.__pydantic_fields__))
    setattr_(obj, "__pydantic_fields_set__", set())
    setattr_(obj, "__pydantic_extra__", None)
    setattr_(obj, "__pydantic_private__", {COMPLETE: set()})
    return obj


# ----------------------------------------------------------------------- frames

# What a frame's container is shown as.
_MODEL = 0  # a partial instance; ``target`` is its __dict__
_LIST = 1  # a list of validated items plus the partial last one
_DICT = 2  # a dict of validated values plus the partial last one
_ANY = 3  # plain JSON values, copied as they come
_HIDDEN = 4  # nothing: shown only once complete, by the parent


class _Frame:
    """One open container."""

    __slots__ = ("blocked", "kind", "obj", "raw", "shape", "target")

    def __init__(self, kind: int, shape: Any, target: Any, obj: Any, raw: Any) -> None:
        self.kind = kind
        self.shape = shape
        self.target = target  # where children are shown: a dict or a list
        self.obj = obj  # the partial instance (_MODEL only)
        self.raw = raw  # the assembler's container, validated when this one closes
        self.blocked = False  # _LIST: an invalid item arrived; show nothing after it


class LivePartial:
    """The partial object of one document, kept up to date from its ops.

    ``apply(ops)`` must follow ``assembler.apply(ops)`` for the same ops: the
    raw containers are read from the assembler's document, to validate each
    one when it closes.
    """

    __slots__ = (
        "_assembler",
        "_shape",
        "_stack",
        "_str_slot",
        "_str_target",
        "_str_text",
        "partial",
    )

    def __init__(self, shape: ModelShape, assembler: Assembler) -> None:
        self._shape = shape
        self._assembler = assembler
        self.partial: Any = new_partial(shape.partial_cls)
        """The live partial object."""
        self._stack: list[_Frame] = []
        # The open string, if shown: where, and its text so far.
        self._str_text = ""
        self._str_target: Any = None
        self._str_slot: Any = None

    def apply(self, ops: Iterable[Op]) -> None:
        """Bring the partial object up to date with ``ops``."""
        stack = self._stack
        for op in ops:
            if type(op) is AppendString:
                if self._str_target is not None:  # shown: refresh it
                    text = self._str_text + op.text
                    self._str_text = text
                    self._str_target[self._str_slot] = text
                continue
            t = type(op)
            if t is Close:
                if len(op.path) == len(stack):  # the open string: strings have no frame
                    if stack:
                        parent = stack[-1]
                        key = op.path[-1]
                        if self._str_target is not None:
                            self._str_target = None
                            self._complete(parent, key, self._str_text)
                        else:  # not shown, so not kept: the assembler has it
                            self._complete(parent, key, parent.raw[key])
                else:
                    frame = stack.pop()
                    if stack:
                        self._complete(stack[-1], op.path[-1], frame.raw, frame)
                    elif frame.kind == _MODEL:
                        frame.obj.__pydantic_private__[COMPLETE].update(self._shape.names)
                continue
            if type(op) is SetScalar:
                if stack:
                    self._complete(stack[-1], op.path[-1], op.value)
                continue
            self._start(t, op.path)

    def _start(self, t: type, path: Path) -> None:
        """A container or string starts at ``path``: show its empty partial."""
        stack = self._stack
        key: Any = None
        if stack:
            parent = stack[-1]
            key = path[-1]
            kind = parent.kind
            if kind == _MODEL:
                field = parent.shape.by_key.get(key)
                shape = field.shape if field is not None else None
                slot: Any = field.name if field is not None else None
            elif kind == _LIST:
                shape = None if parent.blocked else parent.shape.item
                slot = key
            elif kind == _DICT:
                shape, slot = parent.shape.value, key
            elif kind == _ANY:
                shape, slot = _ANY_SHAPE, key
            else:
                shape = slot = None
        else:
            parent = None
            slot = None
            shape = self._shape

        if t is StartString:
            self._str_text = ""
            if shape is not None and shape.on_string is not None:
                self._str_target = self._show(parent, slot, "")
            else:
                self._str_target = None
            self._str_slot = slot
            return

        raw = parent.raw[key] if parent is not None else self._assembler.value
        if t is StartObject:
            shown = shape.on_object if shape is not None else None
            if type(shown) is ModelShape:
                obj = self.partial if parent is None else new_partial(shown.partial_cls)
                self._show(parent, slot, obj)
                frame = _Frame(_MODEL, shown, obj.__dict__, obj, raw)
            elif shown is not None:
                target: Any = {}
                self._show(parent, slot, target)
                frame = _Frame(_ANY if type(shown) is AnyShape else _DICT, shown, target, None, raw)
            else:
                frame = _Frame(_HIDDEN, None, None, None, raw)
        else:  # StartArray
            shown = shape.on_array if shape is not None else None
            if shown is not None:
                target = []
                self._show(parent, slot, target)
                frame = _Frame(_ANY if type(shown) is AnyShape else _LIST, shown, target, None, raw)
            else:
                frame = _Frame(_HIDDEN, None, None, None, raw)
        stack.append(frame)

    @staticmethod
    def _show(parent: _Frame | None, slot: Any, value: Any) -> Any:
        """Show an incomplete ``value`` under ``parent``; return where it went."""
        if parent is None:
            return None
        target = parent.target
        if parent.kind == _MODEL:
            parent.obj.__pydantic_fields_set__.add(slot)
            target[slot] = value
        elif type(target) is list:
            target.append(value)
        else:
            target[slot] = value
        return target

    def _complete(
        self, parent: _Frame, key: str | int, raw: Any, frame: _Frame | None = None
    ) -> None:
        """The value at ``key`` in ``parent`` (a container if ``frame`` is its
        frame) is complete: validate it and show it in place of its partial,
        or withhold it if it is invalid."""
        kind = parent.kind
        if kind == _MODEL:
            field = parent.shape.by_key.get(key)
            if field is None:
                return
            obj = parent.obj
            name = field.name
            try:
                if (
                    field.items_suffice
                    and frame is not None
                    and frame.kind == _LIST
                    and not frame.blocked
                ):
                    value = frame.target
                else:
                    value = field.check(raw)
            except Exception:  # validators may raise anything when shown one field alone
                parent.target[name] = None
                obj.__pydantic_fields_set__.discard(name)
                obj.__pydantic_private__[COMPLETE].discard(name)
                return
            parent.target[name] = value
            obj.__pydantic_fields_set__.add(name)
            obj.__pydantic_private__[COMPLETE].add(name)
        elif kind == _LIST:
            if parent.blocked:
                return
            target = parent.target
            try:
                value = parent.shape.check(raw)
            except Exception:
                del target[key:]  # an invalid item: show nothing from it on
                parent.blocked = True
                return
            if key < len(target):  # type: ignore[operator]
                target[key] = value
            else:
                target.append(value)
        elif kind == _DICT:
            try:
                parent.target[key] = parent.shape.check(raw)
            except Exception:
                parent.target.pop(key, None)
        elif kind == _ANY:
            if type(raw) is not dict and type(raw) is not list:  # containers are shown already
                target = parent.target
                if type(target) is dict or key < len(target):  # type: ignore[operator]
                    target[key] = raw
                else:
                    target.append(raw)


_ANY_SHAPE = AnyShape()


def replay(assembler: Assembler) -> list[Op]:
    """The ops that build ``assembler``'s document as it stands, strings whole."""
    if not assembler.started:
        return []
    ops: list[Op] = []
    open_string = assembler.open_string_path

    def walk(node: Any, path: Path) -> None:
        if type(node) is dict:
            ops.append(StartObject(path))
            for key, value in node.items():
                walk(value, (*path, key))
        elif type(node) is list:
            ops.append(StartArray(path))
            for index, value in enumerate(node):
                walk(value, (*path, index))
        elif path == open_string:
            ops.append(StartString(path))
            if node:
                ops.append(AppendString(path, node))
            return
        else:
            ops.append(SetScalar(path, node))
            return
        if assembler.is_complete(path):
            ops.append(Close(path))

    walk(assembler.value, ())
    return ops
