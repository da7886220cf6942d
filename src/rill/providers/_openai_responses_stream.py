"""Decoding the OpenAI Responses API: its event stream and its whole response.

A Responses stream is a sequence of typed events (``event: <type>`` plus a
JSON ``data`` whose ``type`` says the same). The type is always read from the
JSON: OpenRouter sends no ``event:`` lines, comments, and a final
``data: [DONE]`` the API itself never sends. Every event after the first
carries a ``sequence_number``; the last one seen is kept (and each chunk's
``raw`` is its event), so a client can resume a background response with
``starting_after``.

What becomes of each event:

- ``response.output_text.delta`` / ``response.refusal.delta``: content /
  refusal (with the token logprobs when they were asked for);
- ``response.reasoning_summary_text.delta`` and ``response.reasoning_text.delta``:
  reasoning. Summary parts and reasoning texts are separate paragraphs, so a
  blank line is put between them;
- a ``function_call`` item: a tool call whose index is its position among the
  response's function calls, named at ``output_item.added`` (``call_id`` is
  the id), with its arguments from ``function_call_arguments.delta``;
- ``response.output_item.done``: the item itself, verbatim, as a chunk's
  ``items`` (in output order). ``items`` is thus the response's ``output``
  array: reasoning with its ``encrypted_content``, web searches and other
  built-in tool calls, and the message and function-call items whose ids the
  API needs to pair a replayed reasoning item with what followed it;
- ``response.completed`` / ``incomplete`` / ``failed``: the finish reason and
  usage (the native reason is the status, or the incomplete reason);
  ``failed`` and ``error`` events are provider errors.

Output is taken from the delta events only, never re-derived from ``done``
events or the final response: a resumed stream then yields exactly what comes
after ``starting_after``, and nothing twice.
"""

from __future__ import annotations

from typing import Any

from .._chunks import StreamChunk, ToolCallDelta
from .._errors import ProtocolError, ProviderStreamError, provider_error_message
from .._response import Usage
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ._failures import decode_body
from ._json import loads as _loads
from ._sse_stream import SSEStreamDecoder
from ._usage import RESPONSES_USAGE, read_usage

__all__ = ["ResponsesDecoder", "decode_response", "parse_responses_usage"]

# Why a response stopped short: ``incomplete_details.reason`` in rill's words.
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


_PARAGRAPH = "\n\n"
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_STARTED = frozenset({"response.created", "response.queued", "response.in_progress"})


class ResponsesDecoder(SSEStreamDecoder):
    """Per-response decoder: Responses SSE bytes -> ``StreamChunk`` values."""

    __slots__ = (
        "_calls",
        "_done",
        "_held",
        "_id",
        "_model",
        "_open",
        "_provider",
        "_reasoning_part",
        "_tool_items",
        "_tools",
        "sequence_number",
    )

    def __init__(
        self, provider: str = "provider", *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        super().__init__(max_event_bytes=max_event_bytes)
        self._provider = provider or "provider"
        self._done = False
        self._id: str | None = None
        self._model: str | None = None
        # output_index -> tool-call index, and item id -> tool-call index
        self._tools: dict[Any, int] = {}
        self._tool_items: dict[Any, int] = {}
        self._calls = 0
        # Output items added and not yet done, and done items waiting for an
        # earlier one, so that items are delivered in output order.
        self._open: set[int] = set()
        self._held: dict[int, Any] = {}
        self._reasoning_part: tuple[Any, Any, Any] | None = None
        self.sequence_number: int | None = None
        """The ``sequence_number`` of the last event seen: resume after it."""

    @property
    def complete(self) -> bool:
        return self._done

    # ------------------------------------------------------------------ events

    def _event(self, name: bytes, data: bytes, out: list[StreamChunk]) -> None:
        if data == b"[DONE]":
            self._done = True
            return
        if self._done:
            return
        obj = _loads(data)
        if obj.__class__ is not dict:
            raise ProtocolError(f"expected a JSON object in the stream, got {data[:200]!r}")
        seq = obj.get("sequence_number")
        if seq is not None:
            self.sequence_number = seq
        kind = obj.get("type") or name.decode()
        # The frequent events first.
        if kind == "response.output_text.delta":
            out.append(
                StreamChunk(
                    content=obj.get("delta") or "",
                    model=self._model,
                    id=self._id,
                    logprobs=obj.get("logprobs") or None,
                    raw=obj,
                )
            )
        elif (
            kind == "response.reasoning_summary_text.delta"
            or kind == "response.reasoning_text.delta"
        ):
            self._reasoning(obj, out)
        elif kind == "response.function_call_arguments.delta":
            index = self._tool_index(obj)
            call = (ToolCallDelta(index, None, None, obj.get("delta") or ""),)
            out.append(StreamChunk(tool_calls=call, model=self._model, id=self._id, raw=obj))
        elif kind == "response.refusal.delta":
            refusal = obj.get("delta") or ""
            out.append(StreamChunk(refusal=refusal, model=self._model, id=self._id, raw=obj))
        elif kind == "response.output_item.added":
            self._item_added(obj, out)
        elif kind == "response.output_item.done":
            self._item_done(obj, out)
        elif kind in _TERMINAL:
            self._finish(kind, obj, out)
        elif kind in _STARTED:
            if self._id is None:
                response = obj.get("response") or {}
                self._id = response.get("id") or None
                self._model = response.get("model") or None
                out.append(StreamChunk(model=self._model, id=self._id, raw=obj))
        elif kind == "error" or (not obj.get("type") and obj.get("error")):
            error = obj.get("error")
            if not isinstance(error, dict):
                error = {k: v for k, v in obj.items() if k not in ("type", "sequence_number")}
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )

    def _reasoning(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        text = obj.get("delta") or ""
        part = (obj.get("item_id"), obj.get("summary_index"), obj.get("content_index"))
        if part != self._reasoning_part:
            if self._reasoning_part is not None:
                text = _PARAGRAPH + text
            self._reasoning_part = part
        out.append(StreamChunk(reasoning=text, model=self._model, id=self._id, raw=obj))

    def _tool_index(self, obj: dict[str, Any]) -> int:
        index = self._tools.get(obj.get("output_index"))
        if index is None:
            index = self._tool_items.get(obj.get("item_id"))
            if index is None:  # a resumed stream that began after the call was added
                index = self._new_tool(obj.get("output_index"), obj.get("item_id"))
        return index

    def _new_tool(self, output_index: Any, item_id: Any) -> int:
        index = self._calls
        self._calls += 1
        if output_index is not None:
            self._tools[output_index] = index
        if item_id is not None:
            self._tool_items[item_id] = index
        return index

    def _item_added(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        position = obj.get("output_index")
        if isinstance(position, int):
            self._open.add(position)
        item = obj.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return
        index = self._new_tool(position, item.get("id"))
        call = (ToolCallDelta(index, item.get("call_id") or None, item.get("name") or None, ""),)
        out.append(StreamChunk(tool_calls=call, model=self._model, id=self._id, raw=obj))

    def _item_done(self, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        item = obj.get("item")
        if item is None:
            return
        position = obj.get("output_index")
        if not isinstance(position, int):
            out.append(StreamChunk(model=self._model, id=self._id, raw=obj, items=(item,)))
            return
        self._open.discard(position)
        self._held[position] = item
        items = self._release(min(self._open) if self._open else None)
        if items:
            out.append(StreamChunk(model=self._model, id=self._id, raw=obj, items=items))

    def _release(self, below: int | None) -> tuple[Any, ...]:
        """Held items that no earlier open item precedes, in output order."""
        held = self._held
        ready = sorted(k for k in held if below is None or k < below)
        return tuple(held.pop(k) for k in ready)

    def _finish(self, kind: str, obj: dict[str, Any], out: list[StreamChunk]) -> None:
        self._done = True
        response = obj.get("response")
        if not isinstance(response, dict):
            response = {}
        if self._id is None:
            self._id = response.get("id") or None
            self._model = response.get("model") or None
        items = self._release(None)
        if kind == "response.failed":
            finish, native = "error", "failed"
            error = response.get("error") or {"message": "the response failed"}
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )
        else:
            finish, native = _finish_reason(response, self._calls > 0)
        out.append(
            StreamChunk(
                finish_reason=finish,
                usage=parse_responses_usage(response),
                model=self._model,
                id=self._id,
                raw=obj,
                native_finish_reason=native,
                items=items,
            )
        )

    def _error_in(self, obj: Any) -> Any:
        return obj["error"] if isinstance(obj, dict) and obj.get("error") else None

    def _whole_response(self, obj: Any, body: bytes) -> list[StreamChunk] | None:
        if isinstance(obj, dict) and isinstance(obj.get("output"), list):
            self._done = True
            return decode_response(body, self._provider)
        return None


def _finish_reason(response: dict[str, Any], called: bool) -> tuple[str, str]:
    """rill's finish reason and the native one for a completed or incomplete response."""
    status = response.get("status") or "completed"
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return _INCOMPLETE.get(reason or "", "length"), reason or status
    if not called:
        called = any(
            isinstance(item, dict) and item.get("type") == "function_call"
            for item in response.get("output") or ()
        )
    return ("tool_calls" if called else "stop"), status


def parse_responses_usage(response: dict[str, Any]) -> Usage | None:
    """Usage of a Responses ``response`` object (None until it is final)."""
    return read_usage(response.get("usage"), RESPONSES_USAGE)


def decode_response(body: bytes, provider: str = "provider") -> list[StreamChunk]:
    """A whole (non-streamed) Responses ``response`` object as one chunk."""
    return decode_body(provider, body, lambda whole: _decode_response(whole, provider))


def _decode_response(body: bytes, provider: str) -> list[StreamChunk]:
    """``decode_response`` without the translation of what it did not expect."""
    obj = _loads(body)
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got {body[:200]!r}")
    error = obj.get("error")
    if error:
        raise ProviderStreamError(provider_error_message(provider, error), error=error)
    content: list[str] = []
    refusal: list[str] = []
    reasoning: list[str] = []
    logprobs: list[Any] = []
    calls: list[ToolCallDelta] = []
    output = [item for item in obj.get("output") or () if isinstance(item, dict)]
    for item in output:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    content.append(part.get("text") or "")
                    logprobs.extend(part.get("logprobs") or ())
                elif part.get("type") == "refusal":
                    refusal.append(part.get("refusal") or "")
        elif kind == "reasoning":
            reasoning.extend(p.get("text") or "" for p in item.get("summary") or ())
            reasoning.extend(p.get("text") or "" for p in item.get("content") or ())
        elif kind == "function_call":
            calls.append(
                ToolCallDelta(
                    len(calls),
                    item.get("call_id") or None,
                    item.get("name") or None,
                    item.get("arguments") or "",
                )
            )
    finish, native = _finish_reason(obj, bool(calls))
    return [
        StreamChunk(
            content="".join(content),
            reasoning=_PARAGRAPH.join(reasoning),
            refusal="".join(refusal),
            tool_calls=tuple(calls),
            finish_reason=finish,
            usage=parse_responses_usage(obj),
            model=obj.get("model") or None,
            id=obj.get("id") or None,
            logprobs=logprobs or None,
            raw=obj,
            native_finish_reason=native,
            items=tuple(output),
        )
    ]
