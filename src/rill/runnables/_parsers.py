"""Output parsers: steps that turn a model's chunks into text, JSON or
pydantic objects as the chunks arrive.

The JSON parsers feed each chunk's text once to rill's incremental parser
(``rill.structured``), which keeps its place between chunks: the text is
never parsed again from the start, so a stream of n characters costs O(n)
however it is chunked. They yield a value only when the document changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, TypeVar

import orjson

from .._chunks import StreamChunk
from .._errors import InvalidRequestError
from .._messages import Message
from .._response import GenerationResponse
from ._base import Runnable
from ._config import Context

__all__ = ["ItemsParser", "JsonParser", "PydanticParser", "TextParser"]

T = TypeVar("T")


def text_of(value: Any) -> str:
    """The text a parser reads from one input chunk."""
    if isinstance(value, str):
        return value
    if isinstance(value, StreamChunk | GenerationResponse):
        return value.content
    if isinstance(value, Message) and isinstance(value.content, str):
        return value.content
    raise InvalidRequestError(
        f"a parser reads text from chunks, responses, messages or strings, "
        f"not {type(value).__name__}"
    )


class _Parser(Runnable[Any, T], Generic[T]):
    run_type = "parser"
    streams_input = True

    def _transform(self, inputs: Iterator[Any], ctx: Context) -> Iterator[T]:
        state = self._begin()
        for chunk in inputs:
            yield from self._feed(state, text_of(chunk))
        yield from self._end(state)

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[T]:
        state = self._begin()
        async for chunk in inputs:
            for out in self._feed(state, text_of(chunk)):
                yield out
        for out in self._end(state):
            yield out

    def _begin(self) -> Any:
        raise NotImplementedError

    def _feed(self, state: Any, text: str) -> list[T]:
        raise NotImplementedError

    def _end(self, state: Any) -> list[T]:
        return []

    def _final(self, outputs: list[T]) -> Any:
        return outputs[-1] if outputs else None


class TextParser(_Parser[str]):
    """The text of each chunk, as it comes (``"".join`` of them is the
    message's text). It transforms the stream."""

    map_chunk = staticmethod(text_of)

    def _transform(self, inputs: Iterator[Any], ctx: Context) -> Iterator[str]:
        for chunk in inputs:
            yield text_of(chunk)

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[str]:
        async for chunk in inputs:
            yield text_of(chunk)

    def _final(self, outputs: list[str]) -> str:
        return "".join(outputs)

    def __repr__(self) -> str:
        return "TextParser()"


class JsonParser(_Parser[Any]):
    """The JSON in the text, as it fills in: each output is the whole value
    so far (a fresh copy: keep it, it will not change), yielded when the
    value changed. Prose or a markdown fence around the JSON is skipped.
    With ``diff=True`` the outputs are JSON-patch-like operations (``op``,
    ``path``, ``value``) instead, O(size of the change) each. It transforms
    the stream; at the end, incomplete JSON raises ``JsonStreamError``."""

    def __init__(self, *, diff: bool = False) -> None:
        self.diff = diff

    def _begin(self) -> Any:
        from ..structured import Assembler, JsonStreamParser

        return JsonStreamParser(allow_prose=True), Assembler()

    def _feed(self, state: Any, text: str) -> list[Any]:
        parser, assembler = state
        return self._show(assembler, parser.feed(text))

    def _end(self, state: Any) -> list[Any]:
        parser, assembler = state
        return self._show(assembler, parser.flush())

    def _show(self, assembler: Any, ops: list[Any]) -> list[Any]:
        from ..structured import Close, to_patches

        if not ops:
            return []
        # Closes are applied too (the assembler's open containers must follow
        # the parser's), but a piece that only closed something changed
        # nothing a reader of the value could see.
        assembler.apply(ops)
        if all(type(op) is Close for op in ops):
            return []
        if self.diff:
            return [to_patches(ops)]
        return [_copy(assembler.value)]

    def _final(self, outputs: list[Any]) -> Any:
        if self.diff:
            return [patch for patches in outputs for patch in patches]
        return outputs[-1] if outputs else None

    def __repr__(self) -> str:
        return "JsonParser(diff=True)" if self.diff else "JsonParser()"


def _copy(value: Any) -> Any:
    if isinstance(value, dict | list):
        try:
            return orjson.loads(orjson.dumps(value))
        except TypeError:  # an integer beyond 64 bits
            import copy

            return copy.deepcopy(value)
    return value


class PydanticParser(_Parser[Any]):
    """Partial objects of ``model`` as the JSON fills in (every field None
    until it arrives, a copy per change), then the final object validated by
    the model. It transforms the stream; a final object that does not
    validate raises ``StructuredValidationError``."""

    def __init__(self, model: type[Any]) -> None:
        from ..structured._session import check_schema

        check_schema(model, "PydanticParser")
        self.model = model

    def _begin(self) -> Any:
        from ..structured import ObjectTracker

        return ObjectTracker(self.model, allow_prose=True)

    def _feed(self, state: Any, text: str) -> list[Any]:
        from ..structured import Close

        state.feed(text)
        if not state.last_ops or all(type(op) is Close for op in state.last_ops):
            return []
        return [state.snapshot()]

    def _end(self, state: Any) -> list[Any]:
        return [state.flush()]

    def __repr__(self) -> str:
        return f"PydanticParser({self.model.__name__})"


class ItemsParser(_Parser[Any]):
    """Each item of a JSON list of ``model`` values, validated, as soon as it
    is complete. The list is the top-level value or the ``items`` key of the
    top-level object. It transforms the stream."""

    def __init__(self, model: Any) -> None:
        from ..structured._session import items_wrapper

        self.model = model
        self._wrapper = items_wrapper(model)

    def _begin(self) -> Any:
        from ..structured._session import StructuredSession

        return StructuredSession(self._wrapper, from_tool=False, item=self.model, allow_prose=True)

    def _feed(self, state: Any, text: str) -> list[Any]:
        state.take(StreamChunk(content=text))
        state.settle()
        return list(state.new_items())

    def _end(self, state: Any) -> list[Any]:
        state.flush()
        return list(state.new_items())

    def _final(self, outputs: list[Any]) -> Any:
        return list(outputs)

    def __repr__(self) -> str:
        return f"ItemsParser({getattr(self.model, '__name__', self.model)!r})"
