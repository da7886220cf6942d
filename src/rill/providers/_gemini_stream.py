"""Gemini ``GenerateContentResponse`` bodies -> ``StreamChunk`` values.

One decoder reads every shape Gemini answers with, told apart by the first
byte that is not whitespace: ``data:`` is ``?alt=sse`` (CRLF framing, no
``[DONE]``); ``[`` is the JSON array ``streamGenerateContent`` sends without
``alt=sse``; ``{`` is a whole JSON body, either a ``generateContent``
response or an error (Gemini sends 400/404 errors as pretty-printed JSON even
under ``text/event-stream``). Each element has the same shape, so all three
go through ``_GeminiState.element``.

What the elements mean, and where rill puts each part:

- ``text`` parts are content; ``thought: true`` parts are reasoning. Several
  parts of one kind in one element are joined into one chunk.
- A ``functionCall`` part is a whole call: one ``ToolCallDelta`` with id, name
  and the JSON arguments. Gemini rarely gives ids; rill names the calls of a
  candidate ``call_0``, ``call_1``, ... in order (stable however the bytes are
  split), and the request builder finds a result's function name through them.
- Every ``thoughtSignature`` is kept, with the kind of part it came on, as
  the item ``{"type": "thoughtSignature", "part": "text" | "thought" |
  "functionCall", "thoughtSignature": sig}`` (plus ``"toolCallId"`` for a
  function call, where Gemini 3 requires it back), so each signature can be
  returned on its own kind of part. A signature on a text or thought part is
  also the chunk's ``reasoning_signature`` (the last one wins).
- Any other part (``executableCode``, ``codeExecutionResult``, ``inlineData``,
  ...) is kept verbatim as ``{"type": "part", "part": {...}}``; the request
  builder sends it back in the model turn. Non-empty ``groundingMetadata``,
  ``citationMetadata`` and ``urlContextMetadata`` become
  ``{"type": <field>, <field>: {...}}`` items; they are not sent back.
- ``usageMetadata`` is a running total on every element. rill's usage:
  prompt = ``promptTokenCount`` + ``toolUsePromptTokenCount``; completion =
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` (thoughts are billed as
  output); reasoning = ``thoughtsTokenCount``; cached =
  ``cachedContentTokenCount``; total = ``totalTokenCount``.
- ``finishReason`` ends a candidate: ``STOP`` is ``tool_calls`` when the
  candidate called functions, else ``stop``; ``MAX_TOKENS`` is ``length``;
  the safety family is ``content_filter``; anything else (``OTHER``,
  ``MALFORMED_FUNCTION_CALL``, ...) is ``error``. The stream is complete when
  every candidate has finished, or when ``promptFeedback.blockReason`` says
  the prompt was blocked (finish ``content_filter``). There is no end marker.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._chunks import StreamChunk, ToolCallDelta
from .._errors import ProtocolError, ProviderStreamError, RemoteError, provider_error_message
from .._response import Usage
from ..wire import JSONArrayDecoder, SSEDecoder
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES, too_large
from ._failures import shape_error
from ._json import loads as _loads

__all__ = ["GeminiDecoder", "decode_gemini_response"]

_FILTERED = "content_filter"
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": _FILTERED,
    "RECITATION": _FILTERED,
    "BLOCKLIST": _FILTERED,
    "PROHIBITED_CONTENT": _FILTERED,
    "SPII": _FILTERED,
    "IMAGE_SAFETY": _FILTERED,
    "IMAGE_PROHIBITED_CONTENT": _FILTERED,
    "IMAGE_RECITATION": _FILTERED,
}
_METADATA = ("groundingMetadata", "citationMetadata", "urlContextMetadata")
_SIG = "thoughtSignature"
_SIGNATURE_ONLY = frozenset({"thought", _SIG})

_UNKNOWN, _SSE, _ARRAY, _BODY = 0, 1, 2, 3


class _GeminiState:
    """What a response's elements add up to: finished candidates and the
    function calls made so far (for ids and the ``tool_calls`` finish)."""

    __slots__ = ("_blocked", "_calls", "_finished", "_n", "error", "provider")

    def __init__(self, n: int, provider: str) -> None:
        self._n = n
        self.provider = provider or "gemini"
        self._finished: set[int] = set()
        self._calls: dict[int, int] = {}  # candidate index -> function calls made
        self._blocked = False
        self.error: RemoteError | None = None

    @property
    def complete(self) -> bool:
        return self._blocked or len(self._finished) >= self._n

    def element(self, obj: Any, out: list[StreamChunk]) -> bool:
        """One ``GenerateContentResponse``; True when it was an error object,
        which ends the stream (``error`` is set)."""
        if obj.__class__ is not dict:
            raise ProtocolError(f"expected a JSON object from Gemini, got {obj!r:.200}")
        error = obj.get("error")
        if error is not None:
            self.error = ProviderStreamError(
                provider_error_message(self.provider, error), error=error
            )
            return True
        meta = obj.get("usageMetadata")
        usage = _usage(meta) if meta else None
        model = obj.get("modelVersion")
        rid = obj.get("responseId")
        candidates = obj.get("candidates")
        if not candidates:
            self._no_candidates(obj, usage, model, rid, out)
            return False
        for candidate in candidates:
            index = candidate.get("index", 0)
            text = reasoning = ""
            calls: tuple[ToolCallDelta, ...] = ()
            signature = None
            items: tuple[Any, ...] = ()
            content = candidate.get("content")
            parts = content.get("parts") if content else None
            if parts:
                for part in parts:
                    piece = part.get("text")
                    call = None if piece is not None else part.get("functionCall")
                    if call is not None:
                        delta, item = self._call(index, call, part.get("thoughtSignature"))
                        calls += (delta,)
                        if item is not None:
                            items += (item,)
                        continue
                    if piece is None and not part.keys() <= _SIGNATURE_ONLY:
                        items += ({"type": "part", "part": part},)
                        continue
                    thought = part.get("thought")  # a text part, or a bare signature
                    if piece:
                        if thought:
                            reasoning += piece
                        else:
                            text += piece
                    sig = part.get("thoughtSignature")
                    if sig:
                        signature = sig
                        where = "thought" if thought else "text"
                        items += ({"type": "thoughtSignature", "part": where, _SIG: sig},)
            for key in _METADATA:
                value = candidate.get(key)
                if value:
                    items += ({"type": key, key: value},)
            native = candidate.get("finishReason")
            finish = None
            if native:
                self._finished.add(index)
                finish = _FINISH.get(native, "error")
                if finish == "stop" and index in self._calls:
                    finish = "tool_calls"
            lp = candidate.get("logprobsResult")
            out.append(
                StreamChunk(
                    content=text,
                    reasoning=reasoning,
                    tool_calls=calls,
                    finish_reason=finish,
                    index=index,
                    usage=usage,
                    model=model,
                    id=rid,
                    logprobs=_logprobs(lp) if lp else None,
                    reasoning_signature=signature,
                    raw=obj,
                    native_finish_reason=native,
                    items=items,
                )
            )
            usage = None  # reported once, on the first candidate's chunk
        return False

    def _call(
        self, index: int, call: Any, signature: Any
    ) -> tuple[ToolCallDelta, dict[str, Any] | None]:
        position = self._calls.get(index, 0)
        self._calls[index] = position + 1
        call_id = call.get("id") or f"call_{position}"
        args = call.get("args")
        arguments = orjson.dumps(args if args is not None else {}).decode()
        delta = ToolCallDelta(position, call_id, call.get("name"), arguments)
        if not signature:
            return delta, None
        return delta, {
            "type": "thoughtSignature",
            "part": "functionCall",
            "toolCallId": call_id,
            _SIG: signature,
        }

    def _no_candidates(
        self,
        obj: dict[str, Any],
        usage: Usage | None,
        model: Any,
        rid: Any,
        out: list[StreamChunk],
    ) -> None:
        feedback = obj.get("promptFeedback")
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        if reason:
            self._blocked = True
            item = {"type": "promptFeedback", "promptFeedback": feedback}
            out.append(
                StreamChunk(
                    finish_reason=_FILTERED,
                    usage=usage,
                    model=model,
                    id=rid,
                    raw=obj,
                    native_finish_reason=reason,
                    items=(item,),
                )
            )
        elif usage is not None or model:
            out.append(StreamChunk(usage=usage, model=model, id=rid, raw=obj))


class GeminiDecoder:
    """Per-response decoder for every Gemini body shape (see the module docstring)."""

    __slots__ = ("_array", "_body", "_head", "_max", "_mode", "_size", "_sse", "_state")

    def __init__(
        self,
        n: int = 1,
        provider: str = "gemini",
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._state = _GeminiState(n, provider)
        # The largest element, event or whole JSON body (an error, or a
        # non-streamed response) held at once.
        self._max = max_event_bytes
        self._mode = _UNKNOWN
        self._sse: SSEDecoder | None = None
        self._array: JSONArrayDecoder | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._head = b""

    @property
    def error(self) -> RemoteError | None:
        return self._state.error

    @error.setter
    def error(self, value: RemoteError | None) -> None:
        self._state.error = value

    @property
    def complete(self) -> bool:
        return self._state.complete

    def feed(self, data: bytes) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        state = self._state
        if state.error is not None:
            return out
        mode = self._mode
        if mode == _UNKNOWN:
            mode = self._detect(data)
            if mode == _UNKNOWN:
                return out
        element = self._element
        try:
            if mode == _SSE:
                assert self._sse is not None
                for event in self._sse.decode(data):
                    if element(_loads(event.data), out):
                        break
            elif mode == _ARRAY:
                assert self._array is not None
                for obj in self._array.decode(data):
                    if element(obj, out):
                        break
            else:
                self._body.append(data)
                self._size += len(data)
                if self._size > self._max:
                    self._body = []
                    raise too_large("a whole JSON response body", self._max)
        except RemoteError as exc:
            # Reported after the chunks that preceded it, which stay in the partial.
            state.error = exc
        except Exception as exc:  # the framing layer failed in a way it did not foresee
            state.error = shape_error(exc, state.provider, "framing", data)
            state.error.__cause__ = exc
        return out

    def flush(self) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        state = self._state
        if state.error is not None:
            return out
        try:
            if self._mode == _SSE:
                assert self._sse is not None
                for event in self._sse.flush():
                    self._element(_loads(event.data), out)
                if not self._sse.events_seen:
                    raise ProtocolError(f"response is neither Gemini SSE nor JSON: {self._head!r}")
            elif self._mode == _ARRAY:
                assert self._array is not None
                self._array.flush()
            elif self._mode == _BODY:
                self._whole_body(out)
        except RemoteError as exc:
            state.error = exc
        except Exception as exc:  # the framing layer failed in a way it did not foresee
            state.error = shape_error(exc, state.provider, "end of the response", b"")
            state.error.__cause__ = exc
        return out

    def _element(self, obj: Any, out: list[StreamChunk]) -> bool:
        """``_GeminiState.element``, with a shape Gemini never sends raised as
        ``ProtocolError`` and none of that element's chunks kept."""
        start = len(out)
        try:
            stop = self._state.element(obj, out)
        except RemoteError:
            del out[start:]
            raise
        except Exception as exc:
            del out[start:]
            raise shape_error(exc, self._state.provider, "response element", obj) from exc
        return stop

    def _detect(self, data: bytes) -> int:
        """The framing, from the first byte that is not whitespace."""
        head = data.lstrip()
        if not head:
            return _UNKNOWN
        first = head[:1]
        if first == b"[":
            self._array = JSONArrayDecoder(max_element_size=self._max)
            self._mode = _ARRAY
        elif first == b"{":
            self._mode = _BODY
        else:
            self._head = head[:200]
            self._sse = SSEDecoder(max_event_size=self._max)
            self._mode = _SSE
        return self._mode

    def _whole_body(self, out: list[StreamChunk]) -> None:
        body = b"".join(self._body)
        obj = _loads(body)
        self._element(obj, out)


def decode_gemini_response(
    body: bytes, provider: str = "gemini", *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> list[StreamChunk]:
    """A whole body (``generateContent``, or a collected stream of any
    framing) as chunks; a reported error is raised."""
    decoder = GeminiDecoder(1, provider, max_event_bytes=max_event_bytes)
    chunks = decoder.feed(body)
    chunks += decoder.flush()
    if decoder.error is not None:
        raise decoder.error
    return chunks


def _usage(meta: dict[str, Any]) -> Usage:
    # A count sent as null is 0, as one left out is.
    prompt = (meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount") or 0)
    thoughts = meta.get("thoughtsTokenCount") or 0
    completion = (meta.get("candidatesTokenCount") or 0) + thoughts
    return Usage(
        prompt,
        completion,
        meta.get("totalTokenCount") or prompt + completion,
        thoughts,
        meta.get("cachedContentTokenCount") or 0,
    )


def _logprobs(result: Any) -> list[Any] | None:
    """The chosen tokens of ``logprobsResult``, each with its ``topCandidates``
    (Gemini's shape) when they were asked for."""
    if not isinstance(result, dict):
        return None
    chosen = result.get("chosenCandidates")
    if not chosen:
        return None
    top = result.get("topCandidates")
    if not top or len(top) != len(chosen):
        return list(chosen)
    return [
        {**token, "topCandidates": alternatives.get("candidates", [])}
        for token, alternatives in zip(chosen, top, strict=True)
    ]
