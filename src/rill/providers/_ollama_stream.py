"""Ollama's native responses (``/api/chat`` and ``/api/generate``) decoded into
``StreamChunk`` values.

The body is NDJSON: one JSON object per line, the last with ``done: true``,
``done_reason``, token counts and nanosecond timings. A non-streamed response
is that last object alone, with the whole text in it, so one decoder serves
both. Errors arrive as ``{"error": "..."}``: as the whole body, or as a line
in the middle of a stream.

What each line carries:

- ``/api/chat``: ``message.content`` (text), ``message.thinking`` (reasoning)
  and ``message.tool_calls``. Tool calls arrive complete, often several in one
  line, with arguments as a JSON object and (from older servers) no id: each
  gets the next index, ``call_<index>`` as id when it has none, and its
  arguments as compact JSON text.
- ``/api/generate``: ``response`` (text) and ``thinking``; the final line also
  holds ``context`` (the token array of the conversation), left in ``raw``.
- The final line: ``done_reason`` ``stop`` becomes ``tool_calls`` when calls
  were made (Ollama says ``stop`` either way), ``length`` stays, anything
  else (``load``, ``unload``) is kept as Ollama's word. ``prompt_eval_count``
  and ``eval_count`` are the usage. The durations stay in ``raw`` and are
  also given, in seconds, as one item ``{"type": "ollama_timings",
  "total_duration", "load_duration", "prompt_eval_duration",
  "eval_duration"}`` (only the keys Ollama sent), so they reach
  ``GenerationResponse.items``.
- A top-level ``logprobs`` list (recent Ollama versions) is the chunk's logprobs.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._chunks import StreamChunk, ToolCallDelta
from .._errors import ProtocolError, ProviderStreamError, RemoteError, provider_error_message
from .._response import Usage
from ..wire import NDJSONDecoder
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ._failures import shape_error

__all__ = ["OllamaDecoder", "TIMINGS_ITEM"]

TIMINGS_ITEM = "ollama_timings"
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


class OllamaDecoder:
    """Per-response decoder: NDJSON bytes -> ``StreamChunk`` per line.

    ``generate=True`` reads ``/api/generate`` lines (``response``) instead of
    ``/api/chat`` lines (``message``).
    """

    __slots__ = ("_calls", "_done", "_generate", "_lines", "_provider", "_seen", "error")

    def __init__(
        self,
        provider: str = "ollama",
        *,
        generate: bool = False,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._provider = provider or "ollama"
        self._generate = generate
        self._lines = NDJSONDecoder(max_line_size=max_event_bytes)
        self._calls = 0
        self._seen = 0
        self._done = False
        self.error: RemoteError | None = None

    @property
    def complete(self) -> bool:
        return self._done

    def feed(self, data: bytes) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        parse = NDJSONDecoder.parse
        try:
            for line in self._lines.lines(data):
                if self.error is not None:
                    break
                self._take(parse(line), line, out)
        except RemoteError as exc:
            # Reported after the chunks that preceded it, which stay in the partial.
            self.error = exc
        except Exception as exc:  # the framing layer failed in a way it did not foresee
            self.error = shape_error(exc, self._provider, "NDJSON framing", data)
            self.error.__cause__ = exc
        return out

    def flush(self) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        line = self._lines.flush_line()
        if line is None or self.error is not None:
            return out
        try:
            obj = NDJSONDecoder.parse(line)
        except ProtocolError as exc:
            # A stream cut in the middle of a line is incomplete, not malformed
            # (the session says so, as ``complete`` is False); a body that
            # never held one JSON line, or bytes after the final line, is not.
            if self._done or not self._seen:
                self.error = exc
            return out
        try:
            self._take(obj, line, out)
        except RemoteError as exc:
            self.error = exc
        return out

    def _take(self, obj: Any, line: bytes, out: list[StreamChunk]) -> None:
        """One parsed line: its chunk, or (for a shape Ollama never sends)
        a ``ProtocolError`` and no chunk."""
        start = len(out)
        try:
            self._line(obj, out)
        except RemoteError:
            del out[start:]
            raise
        except Exception as exc:
            del out[start:]
            raise shape_error(exc, self._provider, "line", line) from exc

    def _line(self, obj: Any, out: list[StreamChunk]) -> None:
        if obj.__class__ is not dict:
            raise ProtocolError(f"expected a JSON object per line, got {obj!r:.200}")
        self._seen += 1
        error = obj.get("error")
        if error:
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )
            return
        if self._done:
            return
        calls: tuple[ToolCallDelta, ...] = ()
        if self._generate:
            content = obj.get("response") or ""
            reasoning = obj.get("thinking") or ""
        else:
            message = obj.get("message")
            if message:
                content = message.get("content") or ""
                reasoning = message.get("thinking") or ""
                tool_calls = message.get("tool_calls")
                if tool_calls:
                    calls = self._tool_calls(tool_calls)
            else:
                content = reasoning = ""
        finish = native = usage = None
        items: tuple[Any, ...] = ()
        if obj.get("done"):
            self._done = True
            native = obj.get("done_reason") or None
            finish = _finish(native, self._calls > 0)
            usage = _usage(obj)
            timings = _timings(obj)
            if timings is not None:
                items = (timings,)
        out.append(
            StreamChunk(
                content=content,
                reasoning=reasoning,
                tool_calls=calls,
                finish_reason=finish,
                usage=usage,
                model=obj.get("model"),
                logprobs=obj.get("logprobs") or None,
                raw=obj,
                native_finish_reason=native,
                items=items,
            )
        )

    def _tool_calls(self, calls: Any) -> tuple[ToolCallDelta, ...]:
        if not isinstance(calls, list):
            raise ProtocolError(f"unexpected tool_calls {calls!r:.200}")
        deltas = []
        for call in calls:
            function = call.get("function") or {}
            arguments = function.get("arguments")
            if arguments is None:
                text = ""
            elif isinstance(arguments, str):
                text = arguments
            else:
                text = orjson.dumps(arguments).decode()
            index = self._calls
            self._calls += 1
            deltas.append(
                ToolCallDelta(index, call.get("id") or f"call_{index}", function.get("name"), text)
            )
        return tuple(deltas)


def decode_whole(body: bytes, provider: str, *, generate: bool) -> list[StreamChunk]:
    """A non-streamed response (one JSON object), or an error body."""
    decoder = OllamaDecoder(provider, generate=generate)
    chunks = decoder.feed(body)
    chunks += decoder.flush()
    if decoder.error is not None:
        raise decoder.error
    if not decoder.complete:
        raise ProtocolError(f"Ollama response has no final 'done' object: {body[:200]!r}")
    return chunks


def _finish(native: str | None, called: bool) -> str:
    if native is None or native == "stop":
        return "tool_calls" if called else "stop"
    return native


def _usage(obj: dict[str, Any]) -> Usage | None:
    prompt = obj.get("prompt_eval_count")
    completion = obj.get("eval_count")
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    return Usage(prompt, completion, prompt + completion)


def _timings(obj: dict[str, Any]) -> dict[str, Any] | None:
    timings: dict[str, Any] = {}
    for key in _DURATIONS:
        value = obj.get(key)
        if isinstance(value, int | float):
            timings[key] = value / 1e9
    if not timings:
        return None
    return {"type": TIMINGS_ITEM, **timings}
