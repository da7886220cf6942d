"""The accumulated result of a generation: GenerationResponse and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ._messages import Message, MessageRole

if TYPE_CHECKING:
    from ._cost import Cost, PriceTable

__all__ = ["Choice", "GenerationResponse", "Timing", "ToolCall", "Usage"]


@dataclass(slots=True, frozen=True)
class Usage:
    """Token counts. ``estimated`` is True when rill counted them itself because
    the provider reported none (see :mod:`rill._estimate`)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False


@dataclass(slots=True, frozen=True)
class Timing:
    """Where the time went, in seconds, measured by the client.

    ``ttft`` is the time from sending the request to the first chunk carrying
    output; ``gap_*`` describe the pauses between consecutive chunks.
    """

    ttft: float | None = None
    total: float = 0.0
    chunks: int = 0
    output_tokens_per_second: float | None = None
    gap_median: float | None = None
    gap_p95: float | None = None
    gap_max: float | None = None


@dataclass(slots=True)
class ToolCall:
    """A complete tool call. ``arguments`` is the text the model produced;
    ``args`` is that text parsed, or None when it is not a JSON object (for
    example when the output was cut off by ``max_tokens``)."""

    id: str
    name: str
    arguments: str = ""
    index: int = 0

    @property
    def args(self) -> dict[str, Any] | None:
        text = self.arguments.strip() or "{}"
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None


@dataclass(slots=True)
class Choice:
    """One of ``n`` alternative completions."""

    index: int = 0
    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    logprobs: list[Any] | None = None
    reasoning_signature: str | None = None
    native_finish_reason: str | None = None
    items: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class GenerationResponse:
    """A whole response. The top-level text fields are those of the first
    choice; ``choices`` has one entry per choice when ``n > 1``.

    ``model`` and ``provider`` name the model that answered (a fallback's,
    when the first model failed); ``attempts`` counts the requests made
    (retries and fallbacks included); ``cached`` is True for a replay from a
    client's cache. ``cost`` is priced from ``usage`` (see ``cost_reason``
    when it is None)."""

    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    provider: str | None = None
    id: str | None = None
    usage: Usage = field(default_factory=Usage)
    timing: Timing = field(default_factory=Timing)
    choices: list[Choice] = field(default_factory=list)
    logprobs: list[Any] | None = None
    reasoning_signature: str | None = None
    native_finish_reason: str | None = None
    items: list[Any] = field(default_factory=list)
    attempts: int = 1
    cached: bool = False
    prices: PriceTable | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.content

    @property
    def cost(self) -> Cost | None:
        """What this response cost (USD), or None when rill has no price for
        its model; a cache hit costs nothing."""
        priced = self._priced()
        return None if isinstance(priced, str) else priced

    @property
    def cost_reason(self) -> str | None:
        """Why ``cost`` is None (None when there is a cost)."""
        priced = self._priced()
        return priced if isinstance(priced, str) else None

    def _priced(self) -> Cost | str:
        from ._cost import Cost, default_prices

        table = self.prices or default_prices()
        priced = table.cost(self.provider, self.model, self.usage)
        if self.cached and isinstance(priced, Cost):
            return Cost(0.0, 0.0, 0.0, 0.0, priced.model, priced.prices_as_of, priced.estimated)
        return priced

    def to_message(self, choice: int = 0) -> Message:
        """This response as the assistant turn of a continued conversation:
        text, tool calls, and the reasoning (with its signature) and provider
        items that some providers require to be sent back."""
        picked = self.choices[choice] if self.choices else Choice()
        return Message(
            role=MessageRole.ASSISTANT,
            content=picked.content,
            tool_calls=list(picked.tool_calls) or None,
            reasoning=picked.reasoning or None,
            reasoning_signature=picked.reasoning_signature,
            items=list(picked.items) or None,
            origin=self.provider,
        )
