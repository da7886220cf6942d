"""One structured generation as a plain object: chunks in, partial objects,
completed items and patches out. The sync and async streams only pump
chunks into it, so they cannot behave differently.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Generic, TypeVar, cast

from pydantic import (
    BaseModel,
    PydanticSchemaGenerationError,
    TypeAdapter,
    ValidationError,
    create_model,
)

from .._chunks import StreamChunk
from .._errors import InvalidRequestError
from .._messages import Message, Prompt, normalize_messages
from ..providers import resolve_model
from ._modes import StructuredRequest, structured_request
from ._ops import Path
from ._parser import JsonStreamError
from ._partial import ObjectTracker, PartialBase, Progress, StructuredValidationError, progress
from ._patches import to_patches

__all__ = ["StructuredSession", "check_schema", "items_wrapper"]

M = TypeVar("M", bound=BaseModel)


def items_wrapper(item: object) -> type[BaseModel]:
    """``{"items": [item, ...]}``: the object asked for when streaming items,
    since structured output wants an object at the top."""
    return _items_wrapper(item)


@functools.cache
def _items_wrapper(item: Any) -> type[BaseModel]:
    name = getattr(item, "__name__", "Item")
    try:
        wrapper: type[BaseModel] = create_model(f"{name}List", items=(list[item], ...))
    except (TypeError, PydanticSchemaGenerationError) as exc:
        raise InvalidRequestError(
            f"stream_items() takes a type pydantic can validate (a model, a dataclass, "
            f"int, str, ...), got {item!r}: {exc}"
        ) from None
    return wrapper


def dotted(path: Path) -> str:
    """``("users", 2, "name")`` -> ``"users.2.name"``."""
    return ".".join(str(p) for p in path)


class StructuredSession(Generic[M]):
    """Sans-IO state of ``stream_object`` / ``stream_items`` / ``stream_patches``.

    ``take(chunk)`` keeps the JSON text a chunk carries (message text, or the
    first tool call's arguments in tool mode); ``settle()``, once per network
    read, parses it and tells whether the document changed; ``flush()``
    validates the final object strictly.
    """

    def __init__(
        self, schema: type[M], *, from_tool: bool, item: Any = None, allow_prose: bool = False
    ) -> None:
        self.schema = schema
        self.from_tool = from_tool
        self.tracker: ObjectTracker[M] = ObjectTracker(schema, allow_prose=allow_prose)
        self._completed: list[Path] = []
        self.final: M | None = None
        self._item = TypeAdapter(item) if item is not None else None
        self._items_sent = 0
        self._pending: list[str] = []
        self._bad_item: StructuredValidationError | None = None

    def take(self, chunk: StreamChunk) -> None:
        """Keep the JSON text a chunk carries, for the next ``settle``."""
        if self.from_tool:
            text = "".join(d.arguments for d in chunk.tool_calls if d.index == 0)
        else:
            text = chunk.content
        if text:
            self._pending.append(text)

    def settle(self) -> bool:
        """Parse the text taken since the last call; True when the document
        changed. Called once per network read: what arrived together is parsed
        (and shown) together, which costs far less than chunk by chunk."""
        if not self._pending:
            return False
        text = self._pending[0] if len(self._pending) == 1 else "".join(self._pending)
        self._pending.clear()
        try:
            paths = self.tracker.feed(text)
        except JsonStreamError as exc:
            raise self._invalid(f"the model's JSON is malformed: {exc}") from exc
        self._completed = paths
        return bool(self.tracker.last_ops)

    @property
    def completed(self) -> list[str]:
        """Dotted paths completed by the last update (spelt out only when asked)."""
        return [dotted(p) for p in self._completed]

    @property
    def partial(self) -> M:
        """The live partial object, updated in place by each update: fields
        are None until they arrive."""
        # Typed as the model: the same fields, each None until it arrives.
        return cast(M, self.tracker.partial)

    @property
    def progress(self) -> Progress:
        return progress(self.tracker.partial)

    def patches(self) -> list[dict[str, Any]]:
        """JSON-patch-like operations for what the last update changed."""
        return to_patches(self.tracker.last_ops)

    def new_items(self) -> list[Any]:
        """Items of the list completed since the last call, validated."""
        assert self._item is not None, "not an item stream"
        items = self.tracker.assembler.value
        if isinstance(items, dict):
            items = items.get("items")
        if not isinstance(items, list):
            return []
        done = len(items)
        if done and not self.tracker.assembler.is_complete((*self._list_path(), done - 1)):
            done -= 1  # the last item is still arriving
        if self._bad_item is not None:
            raise self._bad_item
        out = []
        for raw in items[self._items_sent : done]:
            try:
                out.append(self._item.validate_python(raw))
            except ValidationError as exc:
                error = self._invalid(f"item {self._items_sent} is not valid: {exc}")
                error.__cause__ = exc
                if not out:
                    raise error from exc
                # The valid items before it are delivered first.
                self._bad_item = error
                break
            self._items_sent += 1
        return out

    def _list_path(self) -> Path:
        value = self.tracker.assembler.value
        return ("items",) if isinstance(value, dict) else ()

    def flush(self) -> M:
        """The end of the stream: the final object, validated by the model."""
        if self._bad_item is not None:
            raise self._bad_item
        try:
            document = self.tracker.flush_document()
        except JsonStreamError as exc:
            raise self._invalid(f"the model's JSON is incomplete or malformed: {exc}") from exc
        if self._item is not None and isinstance(document, list):
            document = {"items": document}  # a bare array instead of the wrapper
        self.final = self.tracker.validate(document)
        return self.final

    def _invalid(self, message: str) -> StructuredValidationError:
        partial: PartialBase | None
        try:
            partial = self.tracker.partial
        except Exception:
            partial = None
        return StructuredValidationError(message, raw_text=self.tracker.raw_text, partial=partial)


def check_schema(schema: object, function: str) -> None:
    """``schema`` must be a pydantic model class: raised at the call, before any I/O."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise InvalidRequestError(
            f"{function}() takes a pydantic model class (a BaseModel subclass), "
            f"got {schema!r}; wrap other types in a model, e.g. "
            "class Output(BaseModel): value: dict[str, int]"
        )


def structured_call(
    prompt: Prompt, schema: type[BaseModel], options: dict[str, Any]
) -> tuple[Prompt, dict[str, Any], StructuredRequest]:
    """The prompt and options of a structured call, with the mode's additions,
    and what the mode says about where the JSON comes back."""
    if options.get("n", 1) != 1:
        raise InvalidRequestError("structured streaming takes one choice: leave n at 1")
    mode = options.pop("mode", None)
    model = options.get("model")
    if model is None:
        raise InvalidRequestError("model= is required, e.g. model='openai/gpt-4o-mini'")
    if mode is None:
        provider, _ = resolve_model(model)
        mode = provider.structured_mode
    request = structured_request(schema, mode)
    for key in request.options:
        if key in options:
            raise InvalidRequestError(
                f"{key}= is set by structured mode {mode!r}; pick another mode= to set it yourself"
            )
    options.update(copy.deepcopy(request.options))  # the cached request stays untouched
    if request.instruction is not None:
        messages: list[Message | Any] = [request.instruction, *normalize_messages(prompt)]
        prompt = messages
    return prompt, options, request
