"""One request's life, as a plain object the drivers push bytes into.

``StreamSession`` owns everything between the socket and the caller: the
codec's decoder, the accumulator, timing, the decision to retry, the
translation of failures into typed errors carrying the partial response.
The sync and async drivers only move bytes and call these methods, so the
two can never disagree about behaviour.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import orjson

from ._accumulate import Accumulator
from ._chunks import StreamChunk
from ._errors import (
    APIStatusError,
    ConnectError,
    IncompleteStreamError,
    RateLimitError,
    RemoteError,
    ServerError,
    StreamError,
    TimeoutError,
    TransportError,
    status_error,
)
from ._estimate import estimate_usage
from ._request import PreparedRequest
from ._response import GenerationResponse
from ._timing import TimingRecorder
from .providers import ChunkDecoder

__all__ = ["StreamSession"]

_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_MAX_BACKOFF = 8.0
_MAX_RETRY_AFTER = 60.0


class StreamSession:
    """Sans-IO state of one generation.

    Driver protocol::

        session.start()                       # before each attempt
        session.begin(status, headers)        # False: read the body, then
        raise session.status_failure(body)    #   (or retry: session.retry_delay)
        chunks = session.feed(data)           # per network read; yield them,
        idle = session.after_read()           #   then raise a failure they held,
                                              #   or switch to the idle timeout
        chunks = session.end()                # at end of body
        raise session.failure(exc)            # on a transport error mid-body
    """

    __slots__ = (
        "_buffer",
        "_deadline",
        "_decoder",
        "_final",
        "_first_token_deadline",
        "_headers",
        "_idle_pending",
        "_status",
        "accumulator",
        "error",
        "last_read",
        "request",
        "timing",
    )

    def __init__(self, request: PreparedRequest) -> None:
        self.request = request
        self.accumulator = Accumulator()
        self.timing = TimingRecorder()
        self._decoder: ChunkDecoder | None = None
        self._buffer: list[bytes] | None = None
        self._final: GenerationResponse | None = None
        self._status = 0
        self._headers: Mapping[str, str] = {}
        self._deadline: float | None = None
        self._first_token_deadline = 0.0
        self._idle_pending = True
        self.error: RemoteError | None = None
        # The chunks of the latest read, so a consumer can act once per read
        # (chunks that arrived together are handled together).
        self.last_read: list[StreamChunk] = []

    # -------------------------------------------------------------- attempts

    def start(self) -> None:
        """A new attempt begins (the first, or a retry before any output)."""
        self.timing = TimingRecorder()
        self.accumulator = Accumulator()
        self._decoder = None
        self._buffer = None
        self.error = None
        self._idle_pending = True
        now = time.perf_counter()
        timeouts = self.request.timeouts
        if self._deadline is None and timeouts.total is not None:
            self._deadline = now + timeouts.total
        self._first_token_deadline = now + timeouts.first_token

    def begin(self, status: int, headers: Mapping[str, str]) -> bool:
        """Response headers arrived. True when the body is a stream to feed;
        False when it is an error body to read whole and pass to
        ``status_failure``."""
        self._status = status
        self._headers = headers
        if status >= 400:
            return False
        if not self.request.call.stream:
            self._buffer = []
        else:
            self._decoder = self.request.provider.codec.stream_decoder(self.request.call)
        return True

    def status_failure(self, body: bytes) -> APIStatusError:
        try:
            parsed: object = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        return status_error(self._status, parsed, self._headers, self.request.provider.name)

    def retry_delay(self, error: RemoteError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up.
        Only failures before any output reached the caller are retried."""
        if attempt >= self.request.max_retries or self.accumulator.chunks:
            return None
        if isinstance(error, APIStatusError):
            if error.status_code not in _RETRY_STATUSES:
                return None
            if isinstance(error, RateLimitError | ServerError):
                after: float | None = error.retry_after
                if after is not None:
                    return min(after, _MAX_RETRY_AFTER)
        elif not isinstance(error, ConnectError | TimeoutError):
            return None
        backoff = min(_MAX_BACKOFF, 0.5 * 2.0**attempt)
        return backoff * (0.75 + random.random() / 2)

    # ------------------------------------------------------------------ body

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Bytes of the body arrived; returns the chunks they completed.

        A failure found in these bytes is set as ``error`` (with the partial
        response) rather than raised, so the chunks that preceded it are
        still delivered; the driver raises ``error`` after yielding them."""
        if self.error is not None:
            raise self.error
        if self._buffer is not None:
            self._buffer.append(data)
            return []
        decoder = self._decoder
        assert decoder is not None, "feed() before begin()"
        accumulator = self.accumulator
        before = accumulator.output_chars
        chunks = decoder.feed(data)
        add = accumulator.add
        for chunk in chunks:
            add(chunk)
        if accumulator.output_chars != before:
            self.timing.output()
        elif not self.timing.started and time.perf_counter() > self._first_token_deadline:
            self.error = TimeoutError(
                "no output before the first-token timeout", phase="first_token"
            )
        if decoder.error is not None:
            self.error = decoder.error
        elif self._deadline is not None and time.perf_counter() > self._deadline:
            self.error = TimeoutError("total timeout expired", phase="total")
        if self.error is not None:
            self._with_partial(self.error)
        self.last_read = chunks
        return chunks

    def end(self) -> list[StreamChunk]:
        """The body ended. Returns the last chunks, or raises when the stream
        was cut short or reported an error."""
        if self._buffer is not None:
            codec = self.request.provider.codec
            try:
                chunks = codec.decode_response(b"".join(self._buffer))
            except RemoteError as exc:
                raise self._with_partial(exc) from None
            for chunk in chunks:
                self.accumulator.add(chunk)
            if chunks:
                self.timing.output()
            self._finish()
            self.last_read = chunks
            return chunks
        decoder = self._decoder
        assert decoder is not None, "end() before begin()"
        chunks = decoder.flush()
        for chunk in chunks:
            self.accumulator.add(chunk)
        if decoder.error is not None:
            raise self._with_partial(decoder.error)
        if not decoder.complete:
            raise IncompleteStreamError(
                "the connection closed before the stream was complete",
                partial=self.response,
            )
        self._finish()
        self.last_read = chunks
        return chunks

    def failure(self, exc: BaseException, *, phase: str | None = None) -> RemoteError:
        """Translate a lower-layer failure into rill's error, with the partial."""
        if isinstance(exc, RemoteError):
            return self._with_partial(exc)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if phase is not None:
            return TimeoutError(
                f"{phase.replace('_', ' ')} timeout expired ({message})",
                phase=phase,
                partial=self.response if self._status else None,
            )
        if not self._status:
            return ConnectError(f"could not reach {self.request.provider.name}: {message}")
        return IncompleteStreamError(f"the stream was cut short: {message}", partial=self.response)

    def after_read(self) -> float | None:
        """Called once the chunks of a read were delivered: raises the failure
        found in that read, and returns the idle timeout to switch the socket
        to once output has begun (once; None otherwise)."""
        if self.error is not None:
            raise self.error
        if self._idle_pending and self.timing.started:
            self._idle_pending = False
            return self.request.timeouts.idle
        return None

    # --------------------------------------------------------------- results

    @property
    def read_phase(self) -> str:
        """Which timeout a read timeout was: before output or between chunks."""
        return "idle" if self.timing.started else "first_token"

    @property
    def response(self) -> GenerationResponse:
        """The final response once the stream ended; a snapshot before."""
        if self._final is not None:
            return self._final
        acc = self.accumulator
        return acc.snapshot(
            provider=self.request.provider.name,
            timing=self.timing.timing(acc.chunks, 0),
        )

    def _finish(self) -> None:
        self.timing.finish()
        acc = self.accumulator
        usage = acc.usage
        if usage is None:
            usage = estimate_usage(
                self.request.messages, acc.output_text(), model=acc.model or self.request.call.model
            )
        self._final = acc.snapshot(
            provider=self.request.provider.name,
            usage=usage,
            timing=self.timing.timing(acc.chunks, usage.completion_tokens),
        )

    def _with_partial(self, error: RemoteError) -> RemoteError:
        if isinstance(error, StreamError | TransportError) and error.partial is None:
            error.partial = self.response
        return error
