"""Deltas -> message: folds ``StreamChunk`` values into a ``GenerationResponse``.

Text is kept as lists of pieces and joined only when a snapshot is asked for,
so adding a chunk is O(size of the chunk). Tool calls are keyed by
``(choice, index)``: the first fragment names the call, later fragments extend
its arguments. Usage is taken as reported last (providers send a running or
final total, never a delta).
"""

from __future__ import annotations

from typing import Any

from ._chunks import StreamChunk
from ._response import Choice, GenerationResponse, Timing, ToolCall, Usage

__all__ = ["Accumulator"]


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
        self.chunks += 1
        state = self._choices.get(chunk.index)
        if state is None:
            state = self._choices[chunk.index] = _ChoiceState()
        if chunk.content:
            state.content.append(chunk.content)
            self.output_chars += len(chunk.content)
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
        if self.model is None and chunk.model:
            self.model = chunk.model
        if self.id is None and chunk.id:
            self.id = chunk.id

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
