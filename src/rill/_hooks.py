"""What a ``Client`` does around one call, as the session's hooks.

Cache, rate limits, cost and tracing see a call through the few events the
session reports (an attempt about to be sent, its headers, a retry, a
fallback, the final response, the end of the call), never through its
chunks, so a client with all of them costs the hot path nothing but the
tape a cache records (one list append per network read).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._cache import Recording, cache_key, cacheable, store
from ._estimate import estimate_usage

if TYPE_CHECKING:
    from ._client_object import Client
    from ._errors import RemoteError
    from ._ratelimit import RateLimiter
    from ._request import PreparedRequest
    from ._response import GenerationResponse
    from ._session import StreamSession
    from ._tracing import CallSpan

__all__ = ["CallHooks"]


class CallHooks:
    """The session hooks of one call made through ``client``. ``replay`` is
    True when the call is served from the cache."""

    __slots__ = ("_booked", "_client", "_limiter", "_record", "_span", "_started", "replay")

    def __init__(
        self, client: Client, *, replay: bool, record: bool, span: CallSpan | None
    ) -> None:
        self._client = client
        self.replay = replay
        self._record = record
        self._span = span
        self._limiter: RateLimiter | None = None
        self._booked = 0
        self._started = 0.0

    def admit(self, session: StreamSession) -> float:
        request = session.request
        if self._span is not None:
            self._span.start(request)
        wait = 0.0
        self._limiter = None if self.replay else self._client._limiter_for(request)
        if self._limiter is not None:
            self._booked = _estimated_tokens(request)
            wait = self._limiter.reserve(self._booked)
        if self._record and session.tape is None:
            session.tape = []
        self._started = time.perf_counter() + wait
        return wait

    def responded(self, session: StreamSession, status: int, headers: Mapping[str, str]) -> None:
        if self._limiter is not None:
            self._limiter.observe(status, headers)

    def retrying(self, session: StreamSession, error: RemoteError, delay: float) -> None:
        if self._span is not None:
            self._span.retry(error, delay, session.attempts)

    def falling_back(
        self, session: StreamSession, error: RemoteError, failed: PreparedRequest
    ) -> None:
        if self._span is not None:
            self._span.fallback(error, failed, session.request)

    def finished(self, session: StreamSession, response: GenerationResponse) -> None:
        client = self._client
        response.prices = client.prices
        if self.replay:
            response.cached = True
        else:
            if self._limiter is not None and not response.usage.estimated:
                self._limiter.settle(self._booked, response.usage.total_tokens)
            tape, cache = session.tape, client.cache
            if tape is not None and cache is not None and cacheable(response.finish_reason):
                start = self._started
                recording = Recording(
                    pieces=tuple(data for _, data in tape),
                    offsets=tuple(max(0.0, at - start) for at, _ in tape),
                    provider=session.request.provider.name,
                    model=session.request.call.model,
                )
                store(cache, cache_key(session.request), recording)
            session.tape = None
            client.costs.add(response.cost)
        if self._span is not None:
            self._span.finish(response)

    def closed(self, session: StreamSession, outcome: BaseException | None) -> None:
        session.tape = None
        if self._span is not None:
            self._span.end(outcome, session.attempts)


def _estimated_tokens(request: PreparedRequest) -> int:
    """What a request books before it is sent: its prompt, estimated, and
    the most it may generate when that is bounded."""
    usage = estimate_usage(request.messages, "", model=request.call.model)
    max_tokens = request.call.params.max_tokens
    return usage.prompt_tokens + (max_tokens or 0)
