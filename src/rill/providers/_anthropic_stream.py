"""Anthropic Messages responses, decoded: streamed events and whole messages
give the same chunks.

A stream is a sequence of typed events: ``message_start`` (id, model, input
usage), then per content block ``content_block_start`` / ``_delta`` /
``_stop``, then ``message_delta`` (stop reason, cumulative usage) and
``message_stop``. Blocks map onto rill's chunks as follows:

- ``text`` blocks stream as ``content``; a text block that carries citations
  is also kept whole in ``items`` (text and citations together) when it ends.
- ``thinking`` blocks stream as ``reasoning``, their ``signature_delta`` as
  ``reasoning_signature``, and each block is kept whole in ``items`` when it
  ends: a response can hold several signed thinking blocks (adaptive or
  interleaved thinking) and every one must be sent back unchanged.
- ``tool_use`` blocks are tool calls, numbered among the tool calls only.
- Every other block (``redacted_thinking``, ``server_tool_use``,
  ``web_search_tool_result``, code execution and tool search results, and
  types yet to come) is kept whole in ``items`` when it ends, with a server
  tool call's ``input`` assembled from its ``input_json_delta`` pieces.

Stop reasons become rill's finish reasons (``end_turn``, ``stop_sequence``
and ``pause_turn`` -> ``stop``, ``max_tokens`` and
``model_context_window_exceeded`` -> ``length``, ``tool_use`` ->
``tool_calls``, ``refusal`` -> ``refusal``), the native word kept alongside:
after ``pause_turn`` the caller sends the response back to let it continue.
An ``error`` event (``overloaded_error`` mid-stream) is a
``ProviderStreamError`` after the chunks that preceded it.

Usage: ``prompt_tokens`` is ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens`` (Anthropic's ``input_tokens`` counts only the
uncached part), ``cached_tokens`` is ``cache_read_input_tokens``,
``completion_tokens`` is ``output_tokens`` and ``reasoning_tokens`` is
``output_tokens_details.thinking_tokens`` where reported. ``message_delta``
counts are cumulative, so they replace those of ``message_start``.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._chunks import StreamChunk, ToolCallDelta, text_chunk
from .._errors import ProtocolError, ProviderStreamError, provider_error_message
from .._response import Usage
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ._json import loads as _loads
from ._sse_stream import SSEStreamDecoder

__all__ = ["FINISH_REASONS", "AnthropicDecoder", "decode_message", "parse_anthropic_usage"]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
}

_NO_TOOLS: tuple[ToolCallDelta, ...] = ()


def decode_message(obj: dict[str, Any]) -> StreamChunk:
    """A whole (non-streamed) message as one chunk, the same as its stream accumulates to."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCallDelta] = []
    items: list[Any] = []
    signature = None
    for block in obj.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text") or "")
            if block.get("citations"):
                items.append(block)
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(ToolCallDelta(len(calls), block.get("id"), block.get("name"), arguments))
        else:
            if kind == "thinking":
                thinking.append(block.get("thinking") or "")
                signature = block.get("signature") or signature
            items.append(block)
    native = obj.get("stop_reason")
    usage = obj.get("usage")
    return StreamChunk(
        content="".join(text),
        reasoning="".join(thinking),
        tool_calls=tuple(calls),
        finish_reason=FINISH_REASONS.get(native, native) if native else None,
        usage=parse_anthropic_usage(usage) if isinstance(usage, dict) else None,
        model=obj.get("model"),
        id=obj.get("id"),
        reasoning_signature=signature,
        raw=obj,
        native_finish_reason=native,
        items=tuple(items),
    )


class _Block:
    """A content block kept whole in ``items`` once it ends: its start, and the
    pieces its deltas add."""

    __slots__ = ("citations", "json", "parts", "signature", "start")

    def __init__(self, start: dict[str, Any]) -> None:
        self.start = start
        self.parts: list[str] = []  # text or thinking
        self.json: list[str] = []  # input_json_delta pieces
        self.citations: list[Any] = []
        self.signature: str | None = None

    def item(self) -> dict[str, Any] | None:
        """The complete block, or None for a text block nobody cited."""
        item = dict(self.start)
        kind = item.get("type")
        if kind == "text":
            if not self.citations:
                return None
            item["text"] = item.get("text", "") + "".join(self.parts)
            item["citations"] = list(item.get("citations") or ()) + self.citations
        elif kind == "thinking":
            item["thinking"] = item.get("thinking", "") + "".join(self.parts)
            if self.signature is not None:
                item["signature"] = self.signature
        if self.json:
            text = "".join(self.json)
            try:
                item["input"] = orjson.loads(text) if text.strip() else item.get("input", {})
            except orjson.JSONDecodeError:
                item["input"] = text  # cut off: kept as the text that arrived
        return item


class AnthropicDecoder(SSEStreamDecoder):
    """Per-response decoder: SSE bytes -> ``StreamChunk`` values."""

    __slots__ = ("_blocks", "_calls", "_done", "_provider", "_tools", "_usage")

    def __init__(
        self, provider: str = "anthropic", *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        super().__init__(max_event_bytes=max_event_bytes)
        self._provider = provider or "anthropic"
        self._done = False
        self._blocks: dict[Any, _Block] = {}  # block index -> block kept for items
        self._tools: dict[Any, int] = {}  # open block index -> tool call index
        self._calls = 0  # tool calls started
        self._usage: dict[str, Any] = {}

    @property
    def complete(self) -> bool:
        return self._done

    def _end(self, out: list[StreamChunk]) -> None:
        """The body ended inside a line (some recordings lack the final line
        end). A last event whose JSON is whole is taken, as the ``anthropic``
        SDK takes it; one cut off mid-JSON is not, and the stream stays
        incomplete."""
        if not (self._sse.truncated and self._sse.events_seen):
            return
        events = self._sse.decode_raw(b"\n\n")
        for raw in events:
            try:
                orjson.loads(raw if isinstance(raw, bytes) else raw[1])
            except orjson.JSONDecodeError:
                return
        self._dispatch(events, out)

    def _event(self, name: bytes, data: bytes, out: list[StreamChunk]) -> None:
        if self._done or name == b"ping":
            return
        obj = _loads(data)
        if not isinstance(obj, dict):
            raise ProtocolError(f"expected a JSON object in the stream, got {data[:200]!r}")
        kind = obj.get("type") or name.decode()
        if kind == "content_block_delta":
            self._delta(obj, out)
        elif kind == "content_block_start":
            self._start(obj, out)
        elif kind == "content_block_stop":
            self._tools.pop(obj.get("index"), None)
            block = self._blocks.pop(obj.get("index"), None)
            if block is not None:
                item = block.item()
                if item is not None:
                    out.append(StreamChunk(raw=obj, items=(item,)))
        elif kind == "message_start":
            message = obj.get("message") or {}
            usage = message.get("usage")
            if isinstance(usage, dict):
                self._usage = dict(usage)
            out.append(
                StreamChunk(
                    usage=parse_anthropic_usage(self._usage) if self._usage else None,
                    model=message.get("model"),
                    id=message.get("id"),
                    raw=obj,
                )
            )
        elif kind == "message_delta":
            self._message_delta(obj, out)
        elif kind == "message_stop":
            self._done = True
        elif kind == "error" or name == b"error":
            error = obj.get("error", obj)
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )
        # ping and event types yet to come carry nothing to report.

    def _delta(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        delta = obj.get("delta") or {}
        kind = delta.get("type")
        index = obj.get("index")
        if kind == "text_delta":
            text = delta.get("text") or ""
            if self._blocks:
                block = self._blocks.get(index)
                if block is not None:
                    block.parts.append(text)
            out.append(text_chunk(text, 0, None, None, None, obj))
        elif kind == "input_json_delta":
            piece = delta.get("partial_json") or ""
            tool = self._tools.get(index)
            if tool is not None:
                if piece:
                    out.append(
                        StreamChunk(tool_calls=(ToolCallDelta(tool, None, None, piece),), raw=obj)
                    )
                return
            block = self._blocks.get(index)
            if block is not None:
                block.json.append(piece)
        elif kind == "thinking_delta":
            thinking = delta.get("thinking") or ""
            block = self._blocks.get(index)
            if block is not None:
                block.parts.append(thinking)
            if thinking:
                out.append(StreamChunk(reasoning=thinking, raw=obj))
        elif kind == "signature_delta":
            signature = delta.get("signature") or None
            block = self._blocks.get(index)
            if block is not None:
                block.signature = signature
            out.append(StreamChunk(reasoning_signature=signature, raw=obj))
        elif kind == "citations_delta":
            block = self._blocks.get(index)
            if block is None:
                block = self._blocks[index] = _Block({"type": "text", "text": ""})
            block.citations.append(delta.get("citation"))
        else:
            out.append(StreamChunk(raw=obj))  # a delta type yet to come: kept in raw

    def _start(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        block = obj.get("content_block") or {}
        kind = block.get("type")
        index = obj.get("index")
        if kind == "text":
            if "citations" in block:
                self._blocks[index] = _Block(block)
            if block.get("text"):
                out.append(StreamChunk(content=block["text"], raw=obj))
        elif kind == "tool_use":
            tool = self._tools[index] = self._calls
            self._calls += 1
            start = block.get("input")
            arguments = orjson.dumps(start).decode() if start else ""
            delta = ToolCallDelta(tool, block.get("id"), block.get("name"), arguments)
            out.append(StreamChunk(tool_calls=(delta,), raw=obj))
        else:
            self._blocks[index] = _Block(block)
            if kind == "thinking" and block.get("thinking"):
                out.append(StreamChunk(reasoning=block["thinking"], raw=obj))

    def _message_delta(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        usage = obj.get("usage")
        if isinstance(usage, dict):
            for key, value in usage.items():
                if value is not None:
                    self._usage[key] = value
        # Blocks a max_tokens cut left open end here; nothing follows this event.
        items = [item for block in self._blocks.values() if (item := block.item()) is not None]
        self._blocks.clear()
        native = (obj.get("delta") or {}).get("stop_reason")
        out.append(
            StreamChunk(
                finish_reason=FINISH_REASONS.get(native, native) if native else None,
                usage=parse_anthropic_usage(self._usage) if self._usage else None,
                raw=obj,
                native_finish_reason=native,
                items=tuple(items),
            )
        )

    def _error_in(self, obj: Any) -> Any:
        if isinstance(obj, dict) and (obj.get("type") == "error" or obj.get("error")):
            return obj.get("error", obj)
        return None

    def _whole_response(self, obj: Any, body: bytes) -> list[StreamChunk] | None:
        if isinstance(obj, dict) and obj.get("type") == "message":
            self._done = True
            return [decode_message(obj)]
        return None


def parse_anthropic_usage(raw: dict[str, Any]) -> Usage:
    """rill's ``Usage`` from Anthropic's counts (see the module docstring)."""
    read = raw.get("cache_read_input_tokens") or 0
    prompt = (raw.get("input_tokens") or 0) + read + (raw.get("cache_creation_input_tokens") or 0)
    completion = raw.get("output_tokens") or 0
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    return Usage(prompt, completion, prompt + completion, thinking or 0, read)
