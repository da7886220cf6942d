"""What OpenAI's two generation protocols share: the envelope of each event.

Chat Completions (``/chat/completions``) and text completions
(``/completions``) send the same stream around different choices:
``data: <json>`` events ending with ``data: [DONE]``, an ``id`` and a
``model`` on each chunk, usage wherever the vendor puts it (a final chunk with
empty ``choices``, the finish chunk, ``x_groq.usage``), errors as
``event: error`` (Groq), as an ``error`` object inside a chunk (OpenRouter)
or as a whole JSON body under an event-stream content type. This module reads
that envelope once for both; a subclass says what one choice of a chunk
means (``_choices``) and what a whole response's choice is (``whole_response``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .._chunks import StreamChunk
from .._errors import ProtocolError, ProviderStreamError, provider_error_message
from .._response import Usage
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ._failures import decode_body
from ._json import loads as _loads
from ._sse_stream import SSEStreamDecoder
from ._usage import CHAT_USAGE, read_usage

__all__ = ["OpenAIStreamDecoder", "parse_openai_usage", "whole_response"]

ChoiceChunk = Callable[
    [dict[str, Any], int, "Usage | None", "str | None", "str | None", dict[str, Any]], StreamChunk
]
"""``(choice, position, usage, model, id, response) -> chunk``: one choice of
a whole (non-streamed) response."""


class OpenAIStreamDecoder(SSEStreamDecoder):
    """Per-response decoder of an OpenAI-style stream: the envelope.

    ``choices`` is how many choices the response has (``n``, times the number
    of prompts for text completions): the stream is complete at ``[DONE]`` or
    once each of them has finished."""

    __slots__ = ("_done", "_finished", "_n", "_provider")

    def __init__(
        self,
        choices: int = 1,
        provider: str = "provider",
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(max_event_bytes=max_event_bytes)
        self._provider = provider or "provider"
        self._n = choices
        self._finished: set[int] = set()
        self._done = False

    @property
    def complete(self) -> bool:
        return self._done or len(self._finished) >= self._n

    def _event(self, name: bytes, data: bytes, out: list[StreamChunk]) -> None:
        if data == b"[DONE]":
            self._done = True
            return
        if self._done:
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"invalid JSON in stream ({exc}): {data[:200]!r}") from None
        if name == b"error":
            error = obj.get("error", obj) if isinstance(obj, dict) else obj
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )
            return
        if obj.__class__ is not dict:
            raise ProtocolError(f"expected a JSON object in the stream, got {data[:200]!r}")
        usage = parse_openai_usage(obj) if "usage" in obj or "x_groq" in obj else None
        if obj.get("error"):
            if usage is not None:
                out.append(StreamChunk(usage=usage, raw=obj))
            error = obj["error"]
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )
            return
        choices = obj.get("choices")
        model = obj.get("model") or None
        rid = obj.get("id") or None
        if not choices:
            if usage is not None:
                out.append(StreamChunk(usage=usage, model=model, id=rid, raw=obj))
            return
        self._choices(obj, choices, usage, model, rid, data, out)

    def _choices(
        self,
        obj: dict[str, Any],
        choices: Any,
        usage: Usage | None,
        model: str | None,
        rid: str | None,
        data: bytes,
        out: list[StreamChunk],
    ) -> None:
        """The chunks of one event's non-empty ``choices``; ``usage`` goes on
        the first of them. ``data`` is the event's bytes, which a chunk may
        keep as its ``raw`` instead of the parsed ``obj``."""
        raise NotImplementedError

    def _decode_whole(self, body: bytes) -> list[StreamChunk]:
        """A whole (non-streamed) response sent instead of a stream."""
        raise NotImplementedError

    def _error_in(self, obj: Any) -> Any:
        if isinstance(obj, list) and obj:  # some servers wrap the error in a list
            obj = obj[0]
        return obj["error"] if isinstance(obj, dict) and obj.get("error") else None

    def _whole_response(self, obj: Any, body: bytes) -> list[StreamChunk] | None:
        if isinstance(obj, dict) and obj.get("choices") is not None:
            self._done = True
            return self._decode_whole(body)
        return None


def whole_response(body: bytes, provider: str, choice: ChoiceChunk) -> list[StreamChunk]:
    """A whole OpenAI-style response as one chunk per choice (``choice``
    makes each; usage goes on the first), with an error object raised as
    ``ProviderStreamError`` and whatever else it did not expect as
    ``ProtocolError``."""

    def decode(whole: bytes) -> list[StreamChunk]:
        obj = _loads(whole)
        error = obj.get("error")
        if error:
            raise ProviderStreamError(provider_error_message(provider, error), error=error)
        usage = parse_openai_usage(obj)
        model = obj.get("model")
        rid = obj.get("id")
        chunks = [
            choice(c, position, usage if position == 0 else None, model, rid, obj)
            for position, c in enumerate(obj.get("choices") or ())
        ]
        if not chunks and usage is not None:
            chunks.append(StreamChunk(usage=usage, model=model, id=rid, raw=obj))
        return chunks

    return decode_body(provider, body, decode)


def parse_openai_usage(obj: dict[str, Any]) -> Usage | None:
    """Usage from a chunk or response, wherever the vendor put it."""
    raw = obj.get("usage")
    if not raw:
        groq = obj.get("x_groq")
        raw = groq.get("usage") if isinstance(groq, dict) else None
        if not raw:
            return None
    return read_usage(raw, CHAT_USAGE)
