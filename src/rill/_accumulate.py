"""Deltas -> message: folds ``StreamChunk`` values into a ``GenerationResponse``.

Text is kept as lists of pieces and joined only when a snapshot is asked for,
so adding a chunk is O(size of the chunk). Tool calls are keyed by
``(choice, index)``: the first fragment names the call, later fragments extend
its arguments. Usage is taken as reported last (providers send a running or
final total, never a delta).

Every chunk of every codec passes through ``add``, so that is where a chunk
built from valid JSON of the wrong shape (a ``content`` that is a number, a
``model`` that is a list, usage counts that are strings) is stopped: a
``ProtocolError`` naming the field, before the value reaches the caller or
the message. The checks ride on the branches ``add`` takes anyway (a few
class comparisons per text chunk), rather than a second pass over every
field of every chunk.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._deltas import ToolCallDelta
from ._errors import InvalidRequestError, ProtocolError
from ._response import Choice, GenerationResponse, Timing, ToolCall, Usage

if TYPE_CHECKING:
    from ._chunks import StreamChunk

__all__ = ["Accumulator", "merge_chunks"]


class _ToolCallState:
    __slots__ = ("arguments", "id", "index", "name")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


class _ChoiceState:
    __slots__ = (
        "content",
        "finish_reason",
        "items",
        "logprobs",
        "native_finish_reason",
        "reasoning",
        "refusal",
        "signature",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, _ToolCallState] = {}
        self.finish_reason: str | None = None
        self.logprobs: list[Any] | None = None
        self.signature: str | None = None
        self.native_finish_reason: str | None = None
        self.items: list[Any] = []

    def snapshot(self, index: int) -> Choice:
        calls = [
            ToolCall(
                id=tc.id or "", name=tc.name or "", arguments="".join(tc.arguments), index=tc.index
            )
            for _, tc in sorted(self.tool_calls.items())
        ]
        return Choice(
            index=index,
            content="".join(self.content),
            reasoning="".join(self.reasoning),
            refusal="".join(self.refusal),
            tool_calls=calls,
            finish_reason=self.finish_reason,
            logprobs=list(self.logprobs) if self.logprobs is not None else None,
            reasoning_signature=self.signature,
            native_finish_reason=self.native_finish_reason,
            items=list(self.items),
        )


class Accumulator:
    """Push chunks with ``add``; ``snapshot()`` gives the response so far."""

    __slots__ = ("_choices", "chunks", "id", "model", "output_chars", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceState] = {}
        self.usage: Usage | None = None
        self.model: str | None = None
        self.id: str | None = None
        self.chunks = 0
        self.output_chars = 0

    def add(self, chunk: StreamChunk) -> None:
        """Fold ``chunk`` in; ``ProtocolError`` (and nothing folded) when a
        field does not have the type ``StreamChunk`` documents."""
        content = chunk.content
        if content.__class__ is not str:
            raise ill_typed(chunk)
        # Text fields other than content are checked where they are used:
        # codecs default them to "" (or None), so a wrong type is truthy.
        if chunk.reasoning and chunk.reasoning.__class__ is not str:
            raise ill_typed(chunk)
        if chunk.refusal and chunk.refusal.__class__ is not str:
            raise ill_typed(chunk)
        model = chunk.model
        if model.__class__ is not str and model is not None:
            raise ill_typed(chunk)
        rid = chunk.id
        if rid.__class__ is not str and rid is not None:
            raise ill_typed(chunk)
        try:
            state = self._choices.get(chunk.index)
        except TypeError:  # an unhashable index
            raise ill_typed(chunk) from None
        if state is None:
            if chunk.index.__class__ is not int:
                raise ill_typed(chunk)
            state = self._choices[chunk.index] = _ChoiceState()
        if chunk.tool_calls and not _calls_ok(chunk.tool_calls):
            raise ill_typed(chunk)
        finish = chunk.finish_reason
        if finish and not (finish.__class__ is str and _optional_str(chunk.native_finish_reason)):
            raise ill_typed(chunk)
        if chunk.logprobs is not None and chunk.logprobs.__class__ is not list:
            raise ill_typed(chunk)
        if chunk.reasoning_signature is not None and chunk.reasoning_signature.__class__ is not str:
            raise ill_typed(chunk)
        if chunk.items and chunk.items.__class__ is not tuple:
            raise ill_typed(chunk)
        if chunk.usage is not None and not _usage_ok(chunk.usage):
            raise ill_typed(chunk)
        # Checked: fold it in.
        self.chunks += 1
        if content:
            state.content.append(content)
            self.output_chars += len(content)
        if chunk.reasoning:
            state.reasoning.append(chunk.reasoning)
            self.output_chars += len(chunk.reasoning)
        if chunk.refusal:
            state.refusal.append(chunk.refusal)
            self.output_chars += len(chunk.refusal)
        if chunk.tool_calls:
            for delta in chunk.tool_calls:
                call = state.tool_calls.get(delta.index)
                if call is None:
                    call = state.tool_calls[delta.index] = _ToolCallState(delta.index)
                if delta.id and not call.id:
                    call.id = delta.id
                if delta.name and not call.name:
                    call.name = delta.name
                if delta.arguments:
                    call.arguments.append(delta.arguments)
                    self.output_chars += len(delta.arguments)
        if chunk.finish_reason:
            state.finish_reason = chunk.finish_reason
            state.native_finish_reason = chunk.native_finish_reason or chunk.finish_reason
        if chunk.logprobs:
            if state.logprobs is None:
                state.logprobs = []
            state.logprobs.extend(chunk.logprobs)
        if chunk.reasoning_signature:
            state.signature = chunk.reasoning_signature
        if chunk.items:
            state.items.extend(chunk.items)
        if chunk.usage is not None:
            self.usage = chunk.usage
        if self.model is None and model:
            self.model = model
        if self.id is None and rid:
            self.id = rid

    @property
    def has_output(self) -> bool:
        return self.output_chars > 0

    def output_text(self) -> str:
        """All generated text of every choice, for estimating tokens."""
        parts: list[str] = []
        for state in self._choices.values():
            parts.extend(state.reasoning)
            parts.extend(state.content)
            parts.extend(state.refusal)
            for call in state.tool_calls.values():
                parts.extend(call.arguments)
        return "".join(parts)

    def snapshot(
        self,
        *,
        provider: str | None = None,
        usage: Usage | None = None,
        timing: Timing | None = None,
    ) -> GenerationResponse:
        choices = [state.snapshot(i) for i, state in sorted(self._choices.items())]
        first = choices[0] if choices else Choice()
        return GenerationResponse(
            content=first.content,
            reasoning=first.reasoning,
            refusal=first.refusal,
            tool_calls=first.tool_calls,
            finish_reason=first.finish_reason,
            model=self.model,
            provider=provider,
            id=self.id,
            usage=usage or self.usage or Usage(),
            timing=timing or Timing(),
            choices=choices,
            logprobs=first.logprobs,
            reasoning_signature=first.reasoning_signature,
            native_finish_reason=first.native_finish_reason,
            items=first.items,
        )


def merge_chunks(chunks: Iterable[StreamChunk]) -> StreamChunk:
    """Chunks of one choice folded by an ``Accumulator`` and read back as one
    chunk (``a + b``, and a step's merged input). Chunks of different choices
    do not merge."""
    acc = Accumulator()
    first: StreamChunk | None = None
    for chunk in chunks:
        if first is None:
            first = chunk
        elif chunk.index != first.index:
            raise InvalidRequestError(
                f"chunks of choice {first.index} and choice {chunk.index} do not merge"
            )
        acc.add(chunk)
    if first is None:
        raise InvalidRequestError("no chunks to merge")
    choice = acc._choices[first.index].snapshot(first.index)
    return type(first)(
        content=choice.content,
        reasoning=choice.reasoning,
        refusal=choice.refusal,
        tool_calls=tuple(
            ToolCallDelta(c.index, c.id or None, c.name or None, c.arguments)
            for c in choice.tool_calls
        ),
        finish_reason=choice.finish_reason,
        index=first.index,
        usage=acc.usage,
        model=acc.model,
        id=acc.id,
        logprobs=choice.logprobs,
        reasoning_signature=choice.reasoning_signature,
        native_finish_reason=choice.native_finish_reason,
        items=tuple(choice.items),
    )


# --------------------------------------------------------- ill-typed chunks

_USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cached_tokens",
)
_NUMBER = (int, float)


def _optional_str(value: object) -> bool:
    return value is None or value.__class__ is str


def _usage_ok(usage: Usage) -> bool:
    return usage.__class__ is Usage and all(
        getattr(usage, name).__class__ in _NUMBER for name in _USAGE_FIELDS
    )


def _calls_ok(calls: tuple[ToolCallDelta, ...]) -> bool:
    return calls.__class__ is tuple and all(map(_call_ok, calls))


def _call_ok(delta: ToolCallDelta) -> bool:
    return (
        delta.__class__ is ToolCallDelta
        and delta.index.__class__ is int
        and _optional_str(delta.id)
        and _optional_str(delta.name)
        and delta.arguments.__class__ is str
    )


def ill_typed(chunk: StreamChunk) -> ProtocolError:
    """The error for a chunk a codec built from JSON of the wrong shape,
    naming the first wrong field (slow path: only on failure)."""
    expected: dict[str, tuple[type, ...]] = {
        "content": (str,),
        "reasoning": (str,),
        "refusal": (str,),
        "index": (int,),
        "model": (str, type(None)),
        "id": (str, type(None)),
        "finish_reason": (str, type(None)),
        "native_finish_reason": (str, type(None)),
        "reasoning_signature": (str, type(None)),
        "logprobs": (list, type(None)),
        "tool_calls": (tuple,),
        "items": (tuple,),
    }
    what = "a field has an unexpected type"
    for name, types in expected.items():
        value = getattr(chunk, name)
        if value.__class__ not in types:
            shown = repr(value)[:80]
            what = f"{name} is {shown}, not {' or '.join(t.__name__ for t in types)}"
            break
    else:
        if chunk.usage is not None and not _usage_ok(chunk.usage):
            what = f"usage is {chunk.usage!r:.120}"
        elif chunk.tool_calls and not _calls_ok(chunk.tool_calls):
            what = f"a tool call is {chunk.tool_calls!r:.120}"
    return ProtocolError(f"an event of the wrong shape ({what}): {repr(chunk._raw)[:200]}")
