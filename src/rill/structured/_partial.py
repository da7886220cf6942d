"""Partial pydantic objects for a JSON stream.

``partial_model(Model)`` is a generated twin of ``Model`` whose fields are all
optional (``None`` until they arrive) and whose nested models are partial
twins too. ``ObjectTracker`` keeps one instance of it, the *live* partial,
and updates it in place as the stream arrives (see ``_live``), under one
rule: a value is shown incomplete only where its type can hold a prefix of
it, and complete values are validated before they are shown.

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
  model in full, because it is final, and replaces its partial twin.
- Fields missing from the document are ``None`` (not their default) until
  the final object.

The partial is the same object for the whole stream: a caller who keeps it
sees it change. ``ObjectTracker.snapshot()`` (or ``partial.model_copy(deep=True)``)
keeps one state. That is what makes an update cost what it changes, not the
size of the document: O(1) per value plus validating each complete value
once, except that a growing string is rebuilt per update (O(its length)).

Only plain ``str`` aliases are honoured when looking fields up in the document.
"""

from __future__ import annotations

import functools
import threading
import types
import typing
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
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
from typing_extensions import deprecated

from .._errors import InvalidRequestError, RillError
from ._assembler import Assembler
from ._live import (
    AnyShape,
    Check,
    DictShape,
    ListShape,
    LiveField,
    LivePartial,
    ModelShape,
    Shape,
    StrShape,
    UnionShape,
    replay,
)
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
    # A set, changed in place as fields complete.
    _rill_complete: set[str] = PrivateAttr(default_factory=set)

    @property
    def complete_fields(self) -> frozenset[str]:
        """Names of the fields whose values are complete."""
        return frozenset(self._rill_complete)


# ---------------------------------------------------------------- partial types

# Caches of derived classes and shapes, one entry per user model; the lock
# makes building them (which recurses through nested models) atomic.
_lock = threading.RLock()
_partials: dict[type[BaseModel], type[PartialBase]] = {}
_shapes: dict[type[BaseModel], ModelShape] = {}


def partial_model(model: type[BaseModel]) -> type[PartialBase]:
    """The partial twin of ``model`` (cached): every field optional, default ``None``.

    Nothing validates its instances: rill fills them with values it validated
    itself. A model that contains itself (directly or not) is typed ``Any``
    inside.
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


def _model_shape(model: type[BaseModel]) -> ModelShape:
    with _lock:
        shape = _shapes.get(model)
        if shape is None:
            # Registered before its fields are filled, so a recursive model
            # finds its own (soon complete) shape.
            shape = _shapes[model] = ModelShape(model, partial_model(model))
            shape.set_fields(
                LiveField(
                    name,
                    _document_key(name, info),
                    _shape_for(info.annotation),
                    _field_check(model, name, info),
                    _items_suffice(model, name, info),
                )
                for name, info in model.model_fields.items()
            )
        return shape


def _document_key(name: str, info: FieldInfo) -> str:
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return info.alias if info.alias is not None else name


def _field_validators(model: type[BaseModel], name: str) -> dict[str, Any]:
    """``model``'s field validators for field ``name``, made for a model of its own."""
    validators: dict[str, Any] = {}
    for vname, decorator in model.__pydantic_decorators__.field_validators.items():
        if name in decorator.info.fields or "*" in decorator.info.fields:
            func = getattr(decorator.func, "__func__", decorator.func)
            validators[vname] = field_validator(name, mode=decorator.info.mode, check_fields=False)(
                func
            )
    return validators


def _items_suffice(model: type[BaseModel], name: str, info: FieldInfo) -> bool:
    """Whether the field is a plain ``list[Model]`` (optional or not): validating
    the whole list then validates each item with ``Model``, as each item was
    validated when it completed, and nothing more."""
    tp = info.annotation
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = members[0] if len(members) == 1 else None
    if typing.get_origin(tp) is not list or info.metadata or _field_validators(model, name):
        return False
    (item,) = typing.get_args(tp)
    return isinstance(item, type) and issubclass(item, BaseModel)


def _field_check(model: type[BaseModel], name: str, info: FieldInfo) -> Check:
    """Validates one complete field as ``model`` would, minus model validators."""
    validators = _field_validators(model, name)
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
        # The core validator, looked up per call: model_validate's wrapper
        # would double the cost of this, which runs once per complete value.
        return one_field.__pydantic_validator__.validate_python({key: raw}).__dict__[name]

    if validators or info.metadata:
        return check
    return _skip_unchanged(info.annotation, config, check)


# Settings under which validating a str, int, float or bool does more than
# check its type.
_SCALAR_SETTINGS = frozenset(
    {"str_strip_whitespace", "str_to_lower", "str_to_upper", "str_min_length", "str_max_length"}
)


def _skip_unchanged(tp: Any, config: Mapping[str, Any], check: Check) -> Check:
    """``check``, except that a JSON scalar which validating would return
    unchanged (a ``str`` for a ``str`` field, say) is returned as it is."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = set(typing.get_args(tp))
    else:
        members = {tp}
    if not members <= {str, int, float, bool, type(None)} or _SCALAR_SETTINGS & config.keys():
        return check
    if float in members and config.get("allow_inf_nan") is False:
        members.remove(float)  # JSON's 1e400 is inf: validation must see it
    same = frozenset(members)

    def check_scalar(raw: Any) -> Any:
        return raw if type(raw) in same else check(raw)

    return check_scalar


def _shape_for(tp: Any) -> Shape:
    origin = typing.get_origin(tp)
    if tp is str:
        return StrShape()
    if tp is Any or tp is object:
        return AnyShape()
    if origin is typing.Annotated:
        return _shape_for(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _model_shape(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _shape_for(members[0])
        return UnionShape(_shape_for(member) for member in members)
    if origin in (list, Sequence, MutableSequence):
        (item,) = typing.get_args(tp) or (Any,)
        return ListShape(_shape_for(item), _validator(item))
    if origin in (dict, Mapping, MutableMapping):
        _, value = typing.get_args(tp) or (Any, Any)
        return DictShape(_shape_for(value), _validator(value))
    return Shape()  # Literal, Enum, datetime, numbers...: only ever shown complete


def _validator(tp: Any) -> Check:
    """Validates a value of type ``tp`` (with the core validator: the
    ``TypeAdapter`` method would cost four times as much for a short string)."""
    return _skip_unchanged(tp, {}, TypeAdapter(tp).validator.validate_python)


# ------------------------------------------------------------------ public API


def build_partial(model: type[M], assembler: Assembler) -> PartialBase:
    """A partial ``model`` (an instance of ``partial_model(model)``) from ``assembler``.

    Before the document starts, or if it is not an object, every field is
    ``None``. Each call builds a new object and validates the complete values
    afresh, O(document size); ``ObjectTracker`` keeps one live object instead.
    """
    live = LivePartial(_model_shape(model), assembler)
    live.apply(replay(assembler))
    return cast(PartialBase, live.partial)


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


def progress(partial_or_tracker: PartialBase | ObjectTracker[Any] | BaseModel) -> Progress:
    """Field completion of a partial object (or a tracker's current one).

    A model instance that is not a partial (the final object) is complete.
    Anything else (a dict, a dataclass, a model class) is an
    ``InvalidRequestError``: progress is counted over a model's fields."""
    complete = False
    if isinstance(partial_or_tracker, ObjectTracker):
        partial: BaseModel = partial_or_tracker.partial
    elif isinstance(partial_or_tracker, BaseModel):
        partial = partial_or_tracker
        complete = not isinstance(partial, PartialBase)
    else:
        raise InvalidRequestError(
            "progress() takes a partial object from stream_object (or an "
            f"ObjectTracker, or a pydantic model instance), got {type(partial_or_tracker).__name__}"
        )
    fields: dict[str, bool] = {}
    _count(type(partial), partial, "", fields, complete=complete, seen=())
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
    """Parser, assembler and live partial object together, for one streamed object.

    >>> from pydantic import BaseModel
    >>> class User(BaseModel):
    ...     name: str
    ...     age: int
    >>> t = ObjectTracker(User)
    >>> _ = t.feed('Sure: {"name": "Ad')
    >>> t.partial
    PartialUser(name='Ad', age=None)
    >>> _ = t.feed('a", "age": 36}')
    >>> t.flush()
    User(name='Ada', age=36)

    ``partial`` is one object for the whole stream, updated in place by each
    ``feed``; ``snapshot()`` copies it for keeping.
    """

    def __init__(self, model: type[M], *, allow_prose: bool = True) -> None:
        self.model = model
        self.parser = JsonStreamParser(allow_prose=allow_prose)
        self.assembler = Assembler()
        self._raw: list[str] = []
        self._live = LivePartial(_model_shape(model), self.assembler)
        self._partial: PartialBase = self._live.partial
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
            self._apply(exc.ops)
            raise
        self.last_ops = ops
        if not ops:  # inside a number or a key, say: nothing changed
            return []
        done = self.assembler.apply(ops)
        self._live.apply(ops)
        return done

    def _apply(self, ops: list[Op]) -> list[Path]:
        self.last_ops = ops
        done = self.assembler.apply(ops)
        self._live.apply(ops)
        return done

    @property
    def partial(self) -> PartialBase:
        """The live partial object: the same instance for the whole stream,
        updated in place by each ``feed``."""
        return self._partial

    def snapshot(self) -> PartialBase:
        """A deep copy of ``partial`` as it is now, which later feeds leave alone."""
        return self.partial.model_copy(deep=True)

    def progress(self) -> Progress:
        """Field completion of the current partial object."""
        return progress(self.partial)

    def flush_document(self) -> Any:
        """End of input: the complete document, not yet validated.

        Raises ``JsonStreamError`` if the JSON is incomplete or malformed.
        """
        try:
            ops = self.parser.flush()
        except JsonStreamError as exc:
            self._apply(exc.ops)
            raise
        self._apply(ops)
        return self.assembler.value

    def flush(self) -> M:
        """End of input: the final object, validated by the model.

        Raises ``JsonStreamError`` if the JSON is incomplete or malformed and
        ``StructuredValidationError`` if it does not validate.
        """
        return self.validate(self.flush_document())

    @deprecated("ObjectTracker.close() is deprecated; use flush()")
    def close(self) -> M:
        """Deprecated: ``flush()``. Kept for one release."""
        return self.flush()

    @deprecated("ObjectTracker.end() is deprecated; use flush_document()")
    def end(self) -> Any:
        """Deprecated: ``flush_document()``. Kept for one release."""
        return self.flush_document()

    def validate(self, document: Any) -> M:
        """``document`` validated by the model, or ``StructuredValidationError``
        carrying the raw text and the last partial."""
        try:
            return validate_final(self.model, document, raw_text=self.raw_text)
        except StructuredValidationError as exc:
            exc.partial = self.partial
            raise


StructuredValidationError.__module__ = "rill"  # public as rill.StructuredValidationError
