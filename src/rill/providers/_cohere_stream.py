"""Cohere v2 chat responses decoded into ``StreamChunk`` values.

The stream is SSE with hyphenated event names, each event's JSON repeating
its name in ``type`` (read first; the ``event:`` line is the fallback), and a
bare ``data: [DONE]`` at the end:

- ``message-start``: the response id (Cohere does not echo the model, so the
  chunk names the model that was asked for).
- ``content-start`` / ``content-delta`` / ``content-end``: content blocks;
  ``delta.message.content.text`` is text and ``.thinking`` (reasoning models)
  is reasoning. A ``logprobs`` object on a delta becomes the chunk's logprobs.
- ``tool-plan-delta``: the plan the model writes before calling tools ("I
  will look up the weather, then..."). It is reasoning: text about what the
  model is going to do, not the answer; on the next turn it goes back as
  ``tool_plan`` with the tool calls (see ``_cohere``).
- ``tool-call-start`` (``index``, id, name, first arguments piece),
  ``tool-call-delta`` (an arguments piece), ``tool-call-end``.
- ``citation-start``: one citation, kept whole as the item
  ``{"type": "cohere_citation", "citation": {...}}`` (sent back with the
  assistant turn); ``citation-end`` carries nothing more.
- ``message-end``: ``finish_reason`` (COMPLETE and STOP_SEQUENCE are
  ``stop``, MAX_TOKENS ``length``, TOOL_CALL ``tool_calls``, ERROR ``error``
  and also a ``ProviderStreamError``) and usage. Cohere reports both
  ``billed_units`` and ``tokens``; rill reports ``tokens`` (what the model
  read and wrote, including the prompt Cohere builds around the messages),
  falling back to ``billed_units`` when ``tokens`` is absent.

The stream is complete at ``message-end`` or ``[DONE]``. A body that is not
SSE at all (a JSON error sent with status 200, or a whole non-streamed
response) is recognised at ``flush()``.
"""

from __future__ import annotations

from typing import Any

from .._chunks import StreamChunk, ToolCallDelta
from .._errors import ProtocolError, ProviderStreamError, provider_error_message
from .._response import Usage
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ._failures import decode_body
from ._json import loads as _loads
from ._openai_chat import tool_call_deltas
from ._sse_stream import SSEStreamDecoder

__all__ = ["CITATION_ITEM", "CohereDecoder", "decode_response"]

CITATION_ITEM = "cohere_citation"

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "ERROR_TOXIC": "content_filter",
    "ERROR_LIMIT": "error",
    "CONTENT_BLOCKED": "content_filter",
    "TIMEOUT": "error",
}
_SILENT = frozenset({"content-end", "tool-call-end", "citation-end"})
_EMPTY: dict[str, Any] = {}


class CohereDecoder(SSEStreamDecoder):
    """Per-response decoder: SSE bytes -> ``StreamChunk`` per event."""

    __slots__ = ("_done", "_ended", "_model", "_provider")

    def __init__(
        self,
        provider: str = "cohere",
        model: str | None = None,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(max_event_bytes=max_event_bytes)
        self._provider = provider or "cohere"
        self._model = model
        self._done = False
        self._ended = False

    @property
    def complete(self) -> bool:
        return self._done or self._ended

    def _event(self, name: bytes, data: bytes, out: list[StreamChunk]) -> None:
        if data == b"[DONE]":
            self._done = True
            return
        if self._done:
            return
        obj = _loads(data)
        if obj.__class__ is not dict:
            raise ProtocolError(f"expected a JSON object in the stream, got {data[:200]!r}")
        kind = obj.get("type") or name.decode("utf-8", "replace")
        # The frequent events first, positional chunks: this runs per token.
        if kind == "content-delta" or kind == "content-start":
            delta = obj.get("delta") or _EMPTY
            content = (delta.get("message") or _EMPTY).get("content") or _EMPTY
            text = content.get("text") or ""
            thinking = content.get("thinking") or ""
            logprobs = obj.get("logprobs") or delta.get("logprobs")
            if text or thinking or logprobs:
                out.append(
                    StreamChunk(
                        content=text, reasoning=thinking, logprobs=_logprobs(logprobs), raw=obj
                    )
                )
        elif kind == "tool-call-delta" or kind == "tool-call-start":
            delta = obj.get("delta") or _EMPTY
            call = (delta.get("message") or _EMPTY).get("tool_calls") or _EMPTY
            function = call.get("function") or _EMPTY
            index = obj.get("index") or 0
            arguments = function.get("arguments") or ""
            if kind == "tool-call-start":
                piece = ToolCallDelta(index, call.get("id"), function.get("name"), arguments)
            else:
                piece = ToolCallDelta(index, None, None, arguments)
            out.append(StreamChunk(tool_calls=(piece,), raw=obj))
        elif kind == "tool-plan-delta":
            delta = obj.get("delta") or _EMPTY
            plan = (delta.get("message") or _EMPTY).get("tool_plan") or ""
            out.append(StreamChunk(reasoning=plan, raw=obj))
        elif kind in _SILENT:
            return
        elif kind == "citation-start":
            delta = obj.get("delta") or _EMPTY
            citation = (delta.get("message") or _EMPTY).get("citations")
            out.append(StreamChunk(raw=obj, items=({"type": CITATION_ITEM, "citation": citation},)))
        elif kind == "message-start":
            out.append(StreamChunk(model=self._model, id=obj.get("id"), raw=obj))
        elif kind == "message-end":
            self._message_end(obj, out)
        elif kind == "error" or (not obj.get("type") and isinstance(obj.get("message"), str)):
            self.error = ProviderStreamError(provider_error_message(self._provider, obj), error=obj)
        else:
            out.append(StreamChunk(raw=obj))  # an event rill does not know yet

    def _message_end(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        self._ended = True
        delta = obj.get("delta") or _EMPTY
        native = delta.get("finish_reason")
        finish = _finish(native)
        out.append(
            StreamChunk(
                finish_reason=finish,
                usage=parse_cohere_usage(delta.get("usage")),
                id=obj.get("id"),
                raw=obj,
                native_finish_reason=native,
            )
        )
        if finish == "error":
            error = delta.get("error") or {"message": f"generation ended with {native}"}
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )

    def _error_in(self, obj: Any) -> Any:
        # A whole response has a message object; an error, a message string.
        if not isinstance(obj, dict) or isinstance(obj.get("message"), dict):
            return None
        return obj if obj.get("message") or obj.get("error") else None

    def _whole_response(self, obj: Any, body: bytes) -> list[StreamChunk] | None:
        if isinstance(obj, dict) and isinstance(obj.get("message"), dict):
            self._ended = True
            return decode_response(body)
        return None


def decode_response(body: bytes) -> list[StreamChunk]:
    """A whole (non-streamed) ``/v2/chat`` response as one chunk."""
    return decode_body("cohere", body, _decode_response)


def _decode_response(body: bytes) -> list[StreamChunk]:
    """``decode_response`` without the translation of what it did not expect."""
    obj = _loads(body)
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got {body[:200]!r}")
    message = obj.get("message")
    if not isinstance(message, dict):
        error = obj.get("error") or obj
        raise ProviderStreamError(provider_error_message("cohere", error), error=error)
    texts: list[str] = []
    thoughts: list[str] = []
    for part in message.get("content") or ():
        if isinstance(part, dict):
            if part.get("type") == "thinking":
                thoughts.append(part.get("thinking") or "")
            elif part.get("type") == "text":
                texts.append(part.get("text") or "")
    if message.get("tool_plan"):
        thoughts.append(message["tool_plan"])
    calls = tool_call_deltas(message.get("tool_calls") or ())
    items = tuple({"type": CITATION_ITEM, "citation": c} for c in message.get("citations") or ())
    native = obj.get("finish_reason")
    return [
        StreamChunk(
            content="".join(texts),
            reasoning="".join(thoughts),
            tool_calls=calls,
            finish_reason=_finish(native),
            usage=parse_cohere_usage(obj.get("usage")),
            id=obj.get("id"),
            logprobs=_logprobs(obj.get("logprobs")),
            raw=obj,
            native_finish_reason=native,
            items=items,
        )
    ]


def parse_cohere_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    counts = raw.get("tokens") or raw.get("billed_units")
    if not isinstance(counts, dict):
        return None
    prompt = int(counts.get("input_tokens") or 0)
    completion = int(counts.get("output_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=int(raw.get("cached_tokens") or 0),
    )


def _finish(native: Any) -> str | None:
    if not native:
        return None
    word = str(native)
    return _FINISH.get(word.upper(), word)


def _logprobs(value: Any) -> list[Any] | None:
    if not value:
        return None
    return list(value) if isinstance(value, list) else [value]
