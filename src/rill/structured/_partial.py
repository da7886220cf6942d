"""Partial pydantic objects from the live document of a JSON stream.

``partial_model(Model)`` is a generated twin of ``Model`` whose fields are all
optional (``None`` until they arrive) and whose nested models are partial
twins too. ``build_partial(Model, assembler)`` fills one from the live
document under one rule: a value is shown incomplete only where its type can
hold a prefix of it, and complete values are validated before they are shown.

- ``str`` fields grow; lists show their complete items plus the partial last
  one; nested objects and ``dict`` values fill in; ``Any`` shows what came.
- ``Literal``, ``Enum``, ``datetime``, ``UUID`` and other types parsed from a
  string appear only once the string is complete *and* valid. Numbers and
  booleans are only ever complete (the parser guarantees it).
- A complete field is validated on its own, once, with its type, constraints
  and the model's field validators for it. Such a validator sees no other
  fields in ``info.data``; if it fails for that reason (or any other), the
  value is withheld until the final validation. Model validators never run
  on partials; a complete nested object or list item is validated by its own
  model in full, because it is final.
- Fields missing from the document are ``None`` (not their default) until
  the final object.

Only plain ``str`` aliases are honoured when looking fields up in the document.
Building a partial walks the still-open part of the document plus the fields
of the objects on it; complete values come from a cache, so streaming one
document costs O(size) validation in total.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
import typing
from collections.abc import Callable, Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic.fields import FieldInfo

from .._errors import RillError
from ._assembler import Assembler
from ._ops import Op, Path
from ._parser import JsonStreamError, JsonStreamParser

__all__ = [
    "ObjectTracker",
    "PartialBase",
    "Progress",
    "StructuredValidationError",
    "build_partial",
    "partial_model",
    "progress",
    "validate_final",
]

M = TypeVar("M", bound=BaseModel)


class StructuredValidationError(RillError, ValueError):
    """The complete JSON did not validate against the model.

    ``raw_text`` is everything the stream delivered, ``partial`` the last
    partial object, ``errors`` pydantic's error list; the ``ValidationError``
    itself is the ``__cause__``.
    """

    def __init__(
        self, message: str, *, raw_text: str, partial: Any, errors: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.raw_text = raw_text
        self.partial = partial
        self.errors = errors if errors is not None else []


class PartialBase(BaseModel):
    """Base of every generated partial model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    _rill_complete: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def complete_fields(self) -> frozenset[str]:
        """Names of the fields whose values are complete."""
        return self._rill_complete


# ---------------------------------------------------------------- partial types

# Caches of derived classes and shapes, one entry per user model; the lock
# makes building them (which recurses through nested models) atomic.
_lock = threading.RLock()
_partials: dict[type[BaseModel], type[PartialBase]] = {}
_shapes: dict[type[BaseModel], _ModelShape] = {}


def partial_model(model: type[BaseModel]) -> type[PartialBase]:
    """The partial twin of ``model`` (cached): every field optional, default ``None``.

    Its instances are built with ``model_construct``: nothing validates them.
    A model that contains itself (directly or not) is typed ``Any`` inside.
    """
    with _lock:
        return cast(type[PartialBase], _partial_model(model, frozenset()))


def _partial_model(model: type[BaseModel], building: frozenset[type[BaseModel]]) -> Any:
    cached = _partials.get(model)
    if cached is not None:
        return cached
    if model in building:
        return Any
    building |= {model}
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = _partial_annotation(info.annotation, building)
        fields[name] = (
            annotation | None,
            Field(default=None, alias=info.alias, description=info.description),
        )
    created = create_model(
        f"Partial{model.__name__}",
        __base__=PartialBase,
        __module__=model.__module__,
        __doc__=f"{model.__name__} while it streams: fields are None until they arrive.",
        **fields,
    )
    _partials[model] = created
    return created


def _partial_annotation(tp: Any, building: frozenset[type[BaseModel]]) -> Any:
    """``tp`` with models replaced by their partial twins and constraints dropped."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _partial_annotation(typing.get_args(tp)[0], building)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _partial_model(tp, building)
    if origin in (typing.Union, types.UnionType):
        args = [_partial_annotation(a, building) for a in typing.get_args(tp)]
        return functools.reduce(lambda a, b: a | b, args)
    if origin in (list, Sequence, MutableSequence):
        (item,) = typing.get_args(tp) or (Any,)
        return list[_partial_annotation(item, building)]  # type: ignore[misc]
    if origin in (dict, Mapping, MutableMapping):
        key, value = typing.get_args(tp) or (Any, Any)
        return dict.__class_getitem__((key, _partial_annotation(value, building)))
    return Any if typing.get_origin(tp) not in (None, typing.Literal) else tp


# ----------------------------------------------------------------------- shapes

_WITHHELD: Any = object()  # "nothing to show yet"

_Check = Callable[[Any], Any]
"""Validates a complete value; raises if it is invalid."""


class _Context:
    """One snapshot's view of the stream, plus caches that outlive it."""

    __slots__ = ("assembler", "blocked", "lists", "validated")

    def __init__(self, assembler: Assembler) -> None:
        self.assembler = assembler
        self.validated: dict[Path, Any] = {}  # complete values, validated once
        self.lists: dict[Path, list[Any]] = {}  # validated complete list items
        self.blocked: set[Path] = set()  # lists stopped at an invalid item

    def check(self, path: Path, raw: Any, check: _Check) -> Any:
        try:
            return self.validated[path]
        except KeyError:
            pass
        try:
            value = check(raw)
        except Exception:  # validators may raise anything when shown one field alone
            value = _WITHHELD
        self.validated[path] = value
        return value


class _Shape:
    """How to show an incomplete value of some type."""

    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        return _WITHHELD


class _StrShape(_Shape):
    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        return node if type(node) is str else _WITHHELD


class _AnyShape(_Shape):
    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        return copy.deepcopy(node)


class _ListShape(_Shape):
    def __init__(self, item: _Shape, check: _Check) -> None:
        self.item = item
        self.check = check

    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        if type(node) is not list:
            return _WITHHELD
        done = ctx.lists.setdefault(path, [])
        n = len(node)
        last_open = n > 0 and not ctx.assembler.is_complete((*path, n - 1))
        complete_n = n - 1 if last_open else n
        while len(done) < complete_n and path not in ctx.blocked:
            try:
                done.append(self.check(node[len(done)]))
            except Exception:
                ctx.blocked.add(path)  # an invalid item: show nothing after it
        out = done[:]
        if last_open and len(done) == n - 1:
            last = self.item.partial(node[-1], (*path, n - 1), ctx)
            if last is not _WITHHELD:
                out.append(last)
        return out


class _DictShape(_Shape):
    def __init__(self, value: _Shape, check: _Check) -> None:
        self.value = value
        self.check = check

    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        if type(node) is not dict:
            return _WITHHELD
        out = {}
        is_complete = ctx.assembler.is_complete
        for key, raw in node.items():
            sub = (*path, key)
            if is_complete(sub):
                value = ctx.check(sub, raw, self.check)
            else:
                value = self.value.partial(raw, sub, ctx)
            if value is not _WITHHELD:
                out[key] = value
        return out


class _UnionShape(_Shape):
    """Picks a member by the JSON type of the incomplete value."""

    def __init__(self, by_type: dict[type, _Shape]) -> None:
        self.by_type = by_type

    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        shape = self.by_type.get(type(node))
        return _WITHHELD if shape is None else shape.partial(node, path, ctx)


class _Field(NamedTuple):
    name: str
    key: str  # the key in the JSON document
    shape: _Shape
    check: _Check  # validates a complete value of this field


class _ModelShape(_Shape):
    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.partial_cls = partial_model(model)
        self.fields: list[_Field] = []  # filled in by _model_shape (models may recurse)

    def partial(self, node: Any, path: Path, ctx: _Context) -> Any:
        if type(node) is not dict:
            return _WITHHELD
        is_complete = ctx.assembler.is_complete
        values: dict[str, Any] = {}
        complete: set[str] = set()
        for f in self.fields:
            if f.key not in node:
                continue
            sub = (*path, f.key)
            if is_complete(sub):
                value = ctx.check(sub, node[f.key], f.check)
                if value is _WITHHELD:
                    continue
                complete.add(f.name)
            else:
                value = f.shape.partial(node[f.key], sub, ctx)
                if value is _WITHHELD:
                    continue
            values[f.name] = value
        obj = self.partial_cls.model_construct(**values)
        if is_complete(path):
            complete = {f.name for f in self.fields}
        obj._rill_complete = frozenset(complete)
        return obj


def _model_shape(model: type[BaseModel]) -> _ModelShape:
    with _lock:
        shape = _shapes.get(model)
        if shape is None:
            # Registered before its fields are filled, so a recursive model
            # finds its own (soon complete) shape.
            shape = _shapes[model] = _ModelShape(model)
            shape.fields = [
                _Field(
                    name,
                    _document_key(name, info),
                    _shape_for(info.annotation),
                    _field_check(model, name, info),
                )
                for name, info in model.model_fields.items()
            ]
        return shape


def _document_key(name: str, info: FieldInfo) -> str:
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return info.alias if info.alias is not None else name


def _field_check(model: type[BaseModel], name: str, info: FieldInfo) -> _Check:
    """Validates one complete field as ``model`` would, minus model validators."""
    validators: dict[str, Any] = {}
    for vname, decorator in model.__pydantic_decorators__.field_validators.items():
        if name in decorator.info.fields or "*" in decorator.info.fields:
            func = getattr(decorator.func, "__func__", decorator.func)
            validators[vname] = field_validator(name, mode=decorator.info.mode, check_fields=False)(
                func
            )
    config = {k: v for k, v in model.model_config.items() if k != "title"}
    alone = create_model(  # type: ignore[call-overload]
        f"{model.__name__}_{name}",
        __config__=ConfigDict(**config),  # type: ignore[typeddict-item]
        __validators__=validators,
        **{name: (info.annotation, info)},
    )
    one_field = cast(type[BaseModel], alone)
    key = info.alias or name

    def check(raw: Any) -> Any:
        return getattr(one_field.model_validate({key: raw}), name)

    return check


def _shape_for(tp: Any) -> _Shape:
    origin = typing.get_origin(tp)
    if tp is str:
        return _StrShape()
    if tp is Any or tp is object:
        return _AnyShape()
    if origin is typing.Annotated:
        return _shape_for(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _model_shape(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _shape_for(members[0])
        by_type: dict[type, _Shape] = {}
        for member in members:
            shape = _shape_for(member)
            kind = {
                _StrShape: str,
                _ModelShape: dict,
                _DictShape: dict,
                _ListShape: list,
            }.get(type(shape))
            if kind is not None:
                by_type.setdefault(kind, shape)
        return _UnionShape(by_type)
    if origin in (list, Sequence, MutableSequence):
        (item,) = typing.get_args(tp) or (Any,)
        return _ListShape(_shape_for(item), TypeAdapter(item).validate_python)
    if origin in (dict, Mapping, MutableMapping):
        _, value = typing.get_args(tp) or (Any, Any)
        return _DictShape(_shape_for(value), TypeAdapter(value).validate_python)
    return _Shape()  # Literal, Enum, datetime, numbers...: only ever shown complete


# ------------------------------------------------------------------ public API


def build_partial(model: type[M], assembler: Assembler) -> PartialBase:
    """A partial ``model`` (an instance of ``partial_model(model)``) from ``assembler``.

    Before the document starts, or if it is not an object, every field is
    ``None``. Each call validates the complete values afresh; ``ObjectTracker``
    keeps them between snapshots instead.
    """
    return _build(model, _Context(assembler))


def _build(model: type[M], ctx: _Context) -> PartialBase:
    assembler = ctx.assembler
    shape = _model_shape(model)
    obj = shape.partial(assembler.value, (), ctx) if assembler.started else _WITHHELD
    if obj is _WITHHELD:
        return partial_model(model).model_construct()
    return cast(PartialBase, obj)


def validate_final(model: type[M], document: Any, *, raw_text: str = "", partial: Any = None) -> M:
    """Validate the complete document with ``model`` (all validators run).

    Raises ``StructuredValidationError`` carrying ``raw_text`` and ``partial``.
    """
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise StructuredValidationError(
            f"the streamed JSON does not match {model.__name__}: {exc}",
            raw_text=raw_text,
            partial=partial,
            errors=exc.errors(),
        ) from exc


class Progress(NamedTuple):
    """How much of a model has arrived: leaf fields, through nested models.

    ``fields`` maps dotted field names (``"address.city"``) to completeness. A
    list or dict field counts as one field, complete when it is.
    """

    completed: int
    total: int
    fields: dict[str, bool]

    @property
    def fraction(self) -> float:
        """``completed / total``, 1.0 for a model without fields."""
        return self.completed / self.total if self.total else 1.0


def progress(partial_or_tracker: PartialBase | ObjectTracker[Any]) -> Progress:
    """Field completion of a partial object (or a tracker's current one)."""
    if isinstance(partial_or_tracker, ObjectTracker):
        partial: PartialBase = partial_or_tracker.partial
    else:
        partial = partial_or_tracker
    fields: dict[str, bool] = {}
    _count(type(partial), partial, "", fields, complete=False, seen=())
    done = sum(fields.values())
    return Progress(done, len(fields), fields)


def _count(
    cls: type[BaseModel],
    obj: Any,
    prefix: str,
    out: dict[str, bool],
    *,
    complete: bool,
    seen: tuple[type[BaseModel], ...],
) -> None:
    names = obj.complete_fields if isinstance(obj, PartialBase) else frozenset()
    for name, info in cls.model_fields.items():
        is_done = complete or name in names
        nested = _single_model(info.annotation)
        if nested is not None and nested not in seen:
            value = getattr(obj, name, None) if obj is not None else None
            _count(nested, value, f"{prefix}{name}.", out, complete=is_done, seen=(*seen, cls))
        else:
            out[prefix + name] = is_done


def _single_model(tp: Any) -> type[BaseModel] | None:
    """The model type of a field holding one (possibly optional) object."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        return _single_model(members[0]) if len(members) == 1 else None
    if typing.get_origin(tp) is typing.Annotated:
        return _single_model(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return None


class ObjectTracker(Generic[M]):
    """Parser, assembler and partial model together, for one streamed object.

    >>> from pydantic import BaseModel
    >>> class User(BaseModel):
    ...     name: str
    ...     age: int
    >>> t = ObjectTracker(User)
    >>> _ = t.feed('Sure: {"name": "Ad')
    >>> t.partial
    PartialUser(name='Ad', age=None)
    >>> _ = t.feed('a", "age": 36}')
    >>> t.close()
    User(name='Ada', age=36)
    """

    def __init__(self, model: type[M], *, allow_prose: bool = True) -> None:
        self.model = model
        self.parser = JsonStreamParser(allow_prose=allow_prose)
        self.assembler = Assembler()
        self._raw: list[str] = []
        self._ctx = _Context(self.assembler)
        self._partial: PartialBase | None = None
        self.last_ops: list[Op] = []  # what the last feed changed, for patches

    @property
    def raw_text(self) -> str:
        """Everything fed so far."""
        return "".join(self._raw)

    def feed(self, text: str) -> list[Path]:
        """Push a chunk; return the paths it completed."""
        self._raw.append(text)
        try:
            ops = self.parser.feed(text)
        except JsonStreamError as exc:
            self.last_ops = exc.ops
            self._partial = None
            self.assembler.apply(exc.ops)
            raise
        self.last_ops = ops
        if ops:
            self._partial = None
        return self.assembler.apply(ops)

    @property
    def partial(self) -> PartialBase:
        """The partial object now (rebuilt at most once per ``feed``)."""
        if self._partial is None:
            self._partial = _build(self.model, self._ctx)
        return self._partial

    def progress(self) -> Progress:
        """Field completion of the current partial object."""
        return progress(self.partial)

    def end(self) -> Any:
        """End of input: the complete document, not yet validated.

        Raises ``JsonStreamError`` if the JSON is incomplete or malformed.
        """
        try:
            self.last_ops = self.parser.close()
        except JsonStreamError as exc:
            self.last_ops = exc.ops
            self.assembler.apply(exc.ops)
            self._partial = None
            raise
        self.assembler.apply(self.last_ops)
        self._partial = None
        return self.assembler.value

    def close(self) -> M:
        """End of input: the final object, validated by the model.

        Raises ``JsonStreamError`` if the JSON is incomplete or malformed and
        ``StructuredValidationError`` if it does not validate.
        """
        return self.validate(self.end())

    def validate(self, document: Any) -> M:
        """``document`` validated by the model, or ``StructuredValidationError``
        carrying the raw text and the last partial."""
        try:
            return validate_final(self.model, document, raw_text=self.raw_text)
        except StructuredValidationError as exc:
            exc.partial = self.partial
            raise
