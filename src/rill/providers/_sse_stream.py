"""What every decoder of a server-sent-event stream does the same way.

A subclass says what one event means (``_event``); this base feeds bytes
through ``SSEDecoder``, stops at the first failure and records it as
``error`` (so the chunks decoded before it are still delivered; an event that
fails delivers none of its own, and whatever an event's handler did not
expect becomes a ``ProtocolError`` in ``_failures``), and keeps
the start of a body that never produced an event, so that a JSON error or a
whole response sent instead of a stream can be recognised at the end
(``_whole_body``).
"""

from __future__ import annotations

from typing import Any

import orjson

from .._chunks import StreamChunk
from .._errors import ProtocolError, ProviderStreamError, RemoteError, provider_error_message
from ..wire import SSEDecoder
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ..wire._sse import RawEvent
from ._failures import shape_error

__all__ = ["SSEStreamDecoder"]

# A body that never produced an event is kept up to this size.
_HEAD_LIMIT = 1 << 20


class SSEStreamDecoder:
    """Base of the per-response decoders of SSE-framed provider streams."""

    __slots__ = ("_head", "_head_size", "_sse", "error")

    _provider: str  # a subclass's slot: the provider named in error messages

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._sse = SSEDecoder(max_event_size=max_event_bytes)
        self._head: list[bytes] | None = []
        self._head_size = 0
        self.error: RemoteError | None = None

    def feed(self, data: bytes) -> list[StreamChunk]:
        head = self._head
        if head is not None:
            self._head_size += len(data)
            if self._sse.events_seen or self._head_size > _HEAD_LIMIT:
                self._head = None
            else:
                head.append(data)
        out: list[StreamChunk] = []
        try:
            self._dispatch(self._sse.decode_raw(data), out)
        except RemoteError as exc:
            # Reported after the chunks that preceded it, which stay in the partial.
            self.error = exc
        except Exception as exc:  # the framing layer failed in a way it did not foresee
            self.error = shape_error(exc, self._provider, "event stream framing", data)
            self.error.__cause__ = exc
        return out

    def flush(self) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        try:
            self._dispatch(self._sse.flush_raw(), out)
            if self.error is None:
                self._end(out)
            if self.error is None and not self._sse.events_seen and self._head:
                body = b"".join(self._head)
                try:
                    self._whole_body(body, out)
                except RemoteError:
                    raise
                except Exception as exc:
                    del out[:]
                    raise shape_error(exc, self._provider, "response body", body) from exc
        except RemoteError as exc:
            self.error = exc
        except Exception as exc:  # the framing layer failed in a way it did not foresee
            self.error = shape_error(exc, self._provider, "end of the event stream", b"")
            self.error.__cause__ = exc
        return out

    def _dispatch(self, events: list[RawEvent], out: list[StreamChunk]) -> None:
        # One try around the loop, not one per event: nothing is paid per
        # event until an event fails (the chunks of events before it stay).
        event = self._event
        raw: RawEvent = b""
        try:
            for raw in events:
                if self.error is not None:
                    return
                if isinstance(raw, bytes):
                    event(b"", raw, out)
                else:
                    event(raw[0], raw[1], out)
        except RemoteError:
            raise
        except Exception as exc:  # valid JSON in a shape the codec does not expect
            name, data = (b"", raw) if isinstance(raw, bytes) else (raw[0], raw[1])
            where = f"{name[:40].decode('utf-8', 'backslashreplace') or 'message'} event"
            raise shape_error(exc, self._provider, where, data) from exc

    def _event(self, name: bytes, data: bytes, out: list[StreamChunk]) -> None:
        """One event: ``name`` is ``b""`` for the default type."""
        raise NotImplementedError

    def _end(self, out: list[StreamChunk]) -> None:
        """The body ended; a subclass may take what the SSE decoder could not."""

    def _whole_body(self, body: bytes, out: list[StreamChunk]) -> None:
        """A body with no events at all: a JSON error, or a whole response
        sent under an event-stream content type. The shared part: parse it,
        ask the subclass what it is, report an error or take the response;
        anything else is not a stream."""
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"response is not an event stream: {body[:200]!r}") from None
        error = self._error_in(obj)
        if error is not None:
            self.error = ProviderStreamError(
                provider_error_message(self._provider, error), error=error
            )
            return
        chunks = self._whole_response(obj, body)
        if chunks is None:
            raise ProtocolError(f"response is not an event stream: {body[:200]!r}")
        out.extend(chunks)

    def _error_in(self, obj: Any) -> Any:
        """The error payload when a whole JSON body is an error, else None."""
        return None

    def _whole_response(self, obj: Any, body: bytes) -> list[StreamChunk] | None:
        """The chunks of a whole (non-streamed) response sent instead of a
        stream (the subclass marks the stream complete), else None."""
        return None
