"""One request's life, as a plain object the drivers push bytes into.

``StreamSession`` owns everything between the socket and the caller: the
codec's decoder, the accumulator, timing, the decision to retry, the
translation of failures into typed errors carrying the partial response.
The sync and async drivers only move bytes and call these methods, so the
two can never disagree about behaviour.

Deadlines are the session's too. ``deadline`` is the instant the next read
must complete by: before the first output, the earlier of the first-token and
total deadlines (both fixed when the attempt or the call starts); after it,
the earlier of the idle deadline (moved forward by each read that produced
output, so keep-alive comments, pings and empty deltas do not extend it) and
the total. The transports hand that instant to the socket and
ask ``expired`` which bound it was when a read times out. Backoff sleeps are
bounded by the total too: a ``Retry-After`` longer than what remains ends
the call at once with the provider's error instead of sleeping.

Every error leaves through ``fail``: it gets the partial response and has
the credentials this request carries scrubbed from its message and body,
whatever the server echoed back.

Fallbacks are the session's too: when the retries of one request are spent
before any output, ``retry_delay`` moves ``request`` to the next prepared
fallback (tried at once). What a client adds around a call (cache, rate
limits, cost, tracing) hangs off ``hooks``: a few calls per attempt and one
per call, never one per chunk.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

import orjson

from ._accumulate import Accumulator
from ._chunks import StreamChunk
from ._errors import (
    APIStatusError,
    ConnectError,
    IncompleteStreamError,
    ProtocolError,
    RateLimitError,
    RemoteError,
    ServerError,
    StreamError,
    TimeoutError,
    TransportError,
    status_error,
)
from ._estimate import estimate_usage
from ._redact import Redactor, remember
from ._request import PreparedRequest
from ._response import GenerationResponse
from ._timing import TimingRecorder
from .providers import ChunkDecoder

__all__ = ["SessionHooks", "StreamSession"]

_log = logging.getLogger("rill")

_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_MAX_BACKOFF = 8.0
_MAX_RETRY_AFTER = 60.0
_INF = math.inf
_now = time.perf_counter


class SessionHooks(Protocol):
    """What a client observes of a call (see ``rill._hooks``). Every method
    runs in the driver, between network operations."""

    def admit(self, session: StreamSession) -> float:
        """Seconds to wait before sending the next attempt (rate limits)."""
        ...

    def responded(self, session: StreamSession, status: int, headers: Mapping[str, str]) -> None:
        """An attempt's status and headers arrived."""
        ...

    def retrying(self, session: StreamSession, error: RemoteError, delay: float) -> None: ...

    def falling_back(
        self, session: StreamSession, error: RemoteError, failed: PreparedRequest
    ) -> None:
        """``failed`` gave up before any output; ``session.request`` is the next."""
        ...

    def finished(self, session: StreamSession, response: GenerationResponse) -> None:
        """The stream completed; ``response`` is final (the hooks may annotate it)."""
        ...

    def closed(self, session: StreamSession, outcome: BaseException | None) -> None:
        """The call is over: completed (None), failed, or stopped by the
        caller (``GeneratorExit``, a cancellation)."""
        ...


class StreamSession:
    """Sans-IO state of one generation.

    Driver protocol::

        wait = session.admit()                # before each attempt: sleep
        session.start()                       #   that long, then start
        # send the request with the socket bound by session.deadline
        session.begin(status, headers)        # False: read at most 1 MiB of
        raise session.status_failure(body)    #   body, then (or retry: retry_delay)
        chunks = session.feed(data)           # per network read; yield them,
        session.after_read()                  #   then raise a failure they held
        chunks = session.flush()              # at end of body
        raise session.expired(connecting)     # when a read or connect timed out
        raise session.failure(exc)            # on another transport error
        session.conclude(outcome)             # once, when the call is over
    """

    __slots__ = (
        "_buffer",
        "_decoder",
        "_fallbacks",
        "_final",
        "_first_token_at",
        "_first_try",
        "_headers",
        "_idle_at",
        "_progressed",
        "_read_at",
        "_received",
        "_redactor",
        "_status",
        "_total_at",
        "accumulator",
        "attempts",
        "deadline",
        "error",
        "hooks",
        "last_read",
        "request",
        "tape",
        "timing",
    )

    def __init__(
        self,
        request: PreparedRequest,
        *,
        fallbacks: Sequence[PreparedRequest] = (),
        hooks: SessionHooks | None = None,
    ) -> None:
        self.request = request
        self.hooks = hooks
        self._fallbacks = list(fallbacks)
        # Attempts made, over retries and fallbacks; the driver's attempt
        # number at which the current request was first tried.
        self.attempts = 0
        self._first_try = 0
        # When a list, each read's (time.perf_counter, bytes) is appended to
        # it: what a cache records to replay.
        self.tape: list[tuple[float, bytes]] | None = None
        remember(request.http.headers)
        self.accumulator = Accumulator()
        self.timing = TimingRecorder()
        self._decoder: ChunkDecoder | None = None
        self._buffer: list[bytes] | None = None
        self._received = 0
        self._final: GenerationResponse | None = None
        self._status = 0
        self._headers: Mapping[str, str] = {}
        self._total_at = math.inf
        self._first_token_at = math.inf
        self._idle_at = math.inf
        self._progressed = False
        self._read_at = 0.0
        self._redactor: Redactor | None = None
        # The instant (time.perf_counter) by which the next read must complete.
        self.deadline = math.inf
        self.error: RemoteError | None = None
        # The chunks of the latest read, so a consumer can act once per read
        # (chunks that arrived together are handled together).
        self.last_read: list[StreamChunk] = []

    # -------------------------------------------------------------- attempts

    def admit(self) -> float:
        """Seconds the driver waits before the next attempt (0: none)."""
        return 0.0 if self.hooks is None else self.hooks.admit(self)

    def start(self) -> None:
        """A new attempt begins (the first, or a retry before any output)."""
        self.attempts += 1
        if _log.isEnabledFor(logging.DEBUG):
            http = self.request.http
            _log.debug(
                "request %s/%s attempt %d: %s %s",
                self.request.provider.name,
                self.request.call.model,
                self.attempts,
                http.method,
                self._redactor_now().scrub(http.url),
            )
        if self.tape is not None:
            self.tape = []
        self.timing = TimingRecorder()
        self.accumulator = Accumulator()
        self._decoder = None
        self._buffer = None
        self._received = 0
        self._status = 0
        self.error = None
        now = time.perf_counter()
        timeouts = self.request.timeouts
        if self._total_at == math.inf and timeouts.total is not None:
            self._total_at = now + timeouts.total
        self._first_token_at = now + timeouts.first_token
        self._idle_at = math.inf
        self._progressed = False
        self.deadline = min(self._first_token_at, self._total_at)

    def begin(self, status: int, headers: Mapping[str, str]) -> bool:
        """Response headers arrived. True when the body is a stream to feed;
        False when it is an error (or a redirect, which rill never follows:
        the request carries credentials) whose body the driver reads, up to
        ``transports.MAX_ERROR_BODY`` bytes, and passes to ``status_failure``."""
        self._status = status
        self._headers = headers
        if self.hooks is not None:
            self.hooks.responded(self, status, headers)
        if status >= 300:
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
        error = status_error(self._status, parsed, self._headers, self.request.provider.name)
        self._redact(error)
        return error

    def retry_delay(self, error: RemoteError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up.
        Only failures before any output reached the caller are retried, and
        only when the wait ends before the total deadline. When the retries
        of a request are spent, the next fallback (if any) is tried at once."""
        delay = self._retry_delay(error, attempt - self._first_try)
        if delay is not None:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "retry %s/%s in %.2f s after %s: %s",
                    self.request.provider.name,
                    self.request.call.model,
                    delay,
                    type(error).__name__,
                    error,
                )
            if self.hooks is not None:
                self.hooks.retrying(self, error, delay)
            return delay
        if self._fallbacks and not self.accumulator.chunks and time.perf_counter() < self._total_at:
            failed = self.request
            self.request = self._fallbacks.pop(0)
            remember(self.request.http.headers)
            self._redactor = None
            self._first_try = attempt + 1
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "fall back from %s/%s to %s/%s after %s: %s",
                    failed.provider.name,
                    failed.call.model,
                    self.request.provider.name,
                    self.request.call.model,
                    type(error).__name__,
                    error,
                )
            if self.hooks is not None:
                self.hooks.falling_back(self, error, failed)
            return 0.0
        return None

    def conclude(self, outcome: BaseException | None) -> None:
        """The driver is done with this call: completed (None), failed with
        ``outcome``, or stopped by the caller (``GeneratorExit``)."""
        if self.hooks is not None:
            self.hooks.closed(self, outcome)

    def _retry_delay(self, error: RemoteError, attempt: int) -> float | None:
        if attempt >= self.request.max_retries or self.accumulator.chunks:
            return None
        if isinstance(error, APIStatusError):
            if error.status_code not in _RETRY_STATUSES:
                return None
            after: float | None = None
            if isinstance(error, RateLimitError | ServerError):
                after = error.retry_after
            if after is not None:
                # Retrying sooner than asked would only be refused again.
                delay = after if after <= _MAX_RETRY_AFTER else math.inf
            else:
                delay = _backoff(attempt)
        elif isinstance(error, ConnectError) or (
            isinstance(error, TimeoutError) and error.phase in ("connect", "first_token")
        ):
            delay = _backoff(attempt)
        else:
            return None
        if time.perf_counter() + delay >= self._total_at:
            return None
        return delay

    # ------------------------------------------------------------------ body

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Bytes of the body arrived; returns the chunks they completed.

        A failure found in these bytes is set as ``error`` (with the partial
        response) rather than raised, so the chunks that preceded it are
        still delivered; the driver raises ``error`` after yielding them."""
        if self.error is not None:
            raise self.error
        self._received += len(data)
        if self._buffer is not None:
            if self.tape is not None:
                self.tape.append((_now(), data))
            self._buffer_whole(data)
            return []
        decoder = self._decoder
        assert decoder is not None, "feed() before begin()"
        accumulator = self.accumulator
        before = accumulator.output_chars
        try:
            chunks = decoder.feed(data)
        except RemoteError as exc:
            chunks, self.error = [], exc
        except Exception as exc:  # a shape no codec check foresaw: never untyped
            chunks, self.error = [], self._undecodable(exc)
        self._accumulate(chunks)
        self._read_at = now = _now()
        if self.tape is not None:
            self.tape.append((now, data))
        if accumulator.output_chars != before:
            self.timing.output(now)
            self._progressed = True
        if self.error is None:
            if decoder.error is not None:
                self.error = decoder.error
            elif now >= self.deadline:
                # A transport that cannot bound each read (see transports) is
                # still stopped here, at the first read past the deadline.
                self.error = self.expired()
        if self.error is not None:
            self.fail(self.error)
        self.last_read = chunks
        return chunks

    def flush(self) -> list[StreamChunk]:
        """The body ended. Returns the last chunks, or raises when the stream
        was cut short or reported an error."""
        if not self._received:
            raise self.fail(
                ProtocolError(
                    f"{self.request.provider.name} answered HTTP {self._status} with an empty body"
                )
            )
        if self._buffer is not None:
            codec = self.request.provider.codec
            try:
                chunks = codec.decode_response(self.request.call, b"".join(self._buffer))
            except RemoteError as exc:
                raise self.fail(exc) from None
            except Exception as exc:
                raise self.fail(self._undecodable(exc)) from exc
            self._accumulate(chunks)
            if self.error is not None:
                raise self.fail(self.error)
            if chunks:
                self.timing.output(time.perf_counter())
            self._finish()
            self.last_read = chunks
            return chunks
        decoder = self._decoder
        assert decoder is not None, "end() before begin()"
        try:
            chunks = decoder.flush()
        except RemoteError as exc:
            raise self.fail(exc) from None
        except Exception as exc:
            raise self.fail(self._undecodable(exc)) from exc
        self._accumulate(chunks)
        if self.error is None:
            self.error = decoder.error
        if self.error is not None:
            raise self.fail(self.error)
        if not decoder.complete:
            raise self.fail(
                IncompleteStreamError("the connection closed before the stream was complete")
            )
        self._finish()
        self.last_read = chunks
        return chunks

    def after_read(self) -> None:
        """Called once the chunks of a read were delivered: raises the failure
        found in that read, and moves the deadline of the next read
        (``deadline``) on.
        The time the caller spent on the chunks, from the end of the read to
        here, is not a silence of the server's: the idle (or first-token)
        deadline moves on by it; the total does not."""
        if self.error is not None:
            raise self.error
        now = _now()
        if self._progressed:
            self._progressed = False
            self._first_token_at = _INF
            self._idle_at = now + self.request.timeouts.idle
        elif self._idle_at != _INF:
            self._idle_at += now - self._read_at
        else:
            self._first_token_at += now - self._read_at
        # Only one of first_token and idle is finite at a time.
        deadline = self._first_token_at if self._idle_at == _INF else self._idle_at
        total = self._total_at
        if total < deadline:
            deadline = total
        self.deadline = deadline

    # -------------------------------------------------------------- failures

    def expired(self, connecting: bool = False) -> TimeoutError:
        """The typed error for a read (or connect) that timed out: which
        bound it was follows from the deadlines, not from the exception."""
        now = time.perf_counter()
        timeouts = self.request.timeouts
        if now >= self._total_at:
            phase, bound = "total", timeouts.total
        elif connecting and now < self.deadline:
            phase, bound = "connect", timeouts.connect
        elif self.timing.started:
            phase, bound = "idle", timeouts.idle
        else:
            phase, bound = "first_token", timeouts.first_token
        what = {
            "total": "the call took longer than",
            "connect": "no connection within",
            "idle": "no output for",
            "first_token": "no output within",
        }[phase]
        error = TimeoutError(f"{phase.replace('_', ' ')} timeout: {what} {bound:g} s", phase=phase)
        self.fail(error)
        return error

    def failure(self, exc: BaseException) -> RemoteError:
        """Translate a lower-layer failure into rill's error, with the partial."""
        if isinstance(exc, RemoteError):
            return self.fail(exc)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        error: RemoteError
        if not self._status:
            error = ConnectError(f"could not reach {self.request.provider.name}: {message}")
        else:
            error = IncompleteStreamError(f"the stream was cut short: {message}")
        return self.fail(error)

    def fail(self, error: RemoteError) -> RemoteError:
        """``error``, ready to raise: with the partial response once the
        response began, and with this request's credentials scrubbed."""
        if self._status and isinstance(error, StreamError | TransportError):
            if error.partial is None:
                error.partial = self.response
        self._redact(error)
        return error

    def _redact(self, error: RemoteError) -> None:
        self._redactor_now().scrub_error(error)

    def _redactor_now(self) -> Redactor:
        if self._redactor is None:
            self._redactor = Redactor.for_headers(self.request.http.headers)
        return self._redactor

    def _accumulate(self, chunks: list[StreamChunk]) -> None:
        """Fold ``chunks`` into the accumulator."""
        accumulator = self.accumulator
        taken = accumulator.chunks
        add = accumulator.add
        try:
            for chunk in chunks:
                add(chunk)
        except ProtocolError as exc:
            self._refuse(chunks, accumulator.chunks - taken, exc)

    def _refuse(self, chunks: list[StreamChunk], taken: int, exc: ProtocolError) -> None:
        """A chunk the accumulator refused (a field of the wrong type) ends
        the stream there: it and those after it (the first ``taken`` were
        folded in) are dropped from ``chunks``, and the failure becomes
        ``error``."""
        del chunks[taken:]
        if self.error is None:
            self.error = ProtocolError(f"{self.request.provider.name} sent {exc}")
            self.error.__cause__ = exc

    def _undecodable(self, exc: Exception) -> ProtocolError:
        name = self.request.provider.name
        error = ProtocolError(f"{name} sent a stream rill cannot decode: {type(exc).__name__}")
        error.__cause__ = exc
        return error

    def _buffer_whole(self, data: bytes) -> None:
        """A non-streamed body is kept whole, up to the event-size limit
        (``_received`` already counts ``data``)."""
        limit = self.request.call.max_event_bytes
        if self._received > limit:
            self.error = self.fail(
                ProtocolError(
                    f"the response body is larger than max_event_bytes={limit}; "
                    "raise it with max_event_bytes=..."
                )
            )
            raise self.error
        assert self._buffer is not None
        self._buffer.append(data)

    # --------------------------------------------------------------- results

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
        final = self._final = acc.snapshot(
            provider=self.request.provider.name,
            usage=usage,
            timing=self.timing.timing(acc.chunks, usage.completion_tokens),
        )
        final.attempts = self.attempts
        if final.model is None:
            final.model = self.request.call.model or None
        if self.hooks is not None:
            self.hooks.finished(self, final)


def _backoff(attempt: int) -> float:
    backoff = min(_MAX_BACKOFF, 0.5 * 2.0**attempt)
    return backoff * (0.75 + random.random() / 2)
