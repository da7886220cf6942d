"""Client-side rate limits: requests and tokens per minute.

A limiter never sleeps: ``reserve`` books the caller's turn under a lock
and returns how long to wait, and the driver waits that long its own way
(``time.sleep`` in a thread, ``anyio.sleep`` on an event loop). So one
limiter serves sync and async calls and every thread at once.

Each budget is spread evenly over the minute (no bursts): with
``requests_per_minute=120`` requests start 0.5 s apart. A request books its
estimated tokens (the prompt, counted as ``_estimate`` does, plus
``max_tokens`` when set); when its usage arrives the difference is given
back or charged. A provider's own view wins when it sends one:
``x-ratelimit-remaining-*`` (or Anthropic's ``anthropic-ratelimit-*``) at 0
holds every request until the matching reset, and a 429's ``retry-after``
holds them for that long.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ._errors import InvalidRequestError, retry_after_seconds

__all__ = ["RateLimit", "RateLimiter", "parse_reset"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A budget for one provider (``Client(rate_limits={"openai": ...})``).
    ``per_key=True`` keeps a separate budget for each API key used with
    the provider."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    per_key: bool = False

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise InvalidRequestError(f"{name} must be a positive number, not {value!r}")
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise InvalidRequestError("a RateLimit needs requests_per_minute or tokens_per_minute")


class _Budget:
    """An evenly spread budget: ``level`` (units) refills at ``rate`` per
    second up to 0 and goes negative while booked ahead."""

    __slots__ = ("level", "rate", "stamp")

    def __init__(self, per_minute: float, now: float) -> None:
        self.rate = per_minute / 60.0
        self.level = 0.0
        self.stamp = now

    def turn(self, now: float) -> float:
        """The instant the budget is out of debt."""
        self.level = min(0.0, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        return now - self.level / self.rate

    def book(self, amount: float, delay: float) -> None:
        """Book ``amount`` at ``delay`` seconds from ``stamp``: the level
        then (no more than full) less ``amount``, seen from now."""
        ahead = delay * self.rate
        self.level = min(0.0, self.level + ahead) - amount - ahead


class RateLimiter:
    """The shared state of one ``RateLimit`` (one per provider, or per key)."""

    __slots__ = ("_hold", "_lock", "_requests", "_tokens", "limit")

    def __init__(self, limit: RateLimit) -> None:
        now = time.monotonic()
        self.limit = limit
        self._lock = threading.Lock()
        rpm, tpm = limit.requests_per_minute, limit.tokens_per_minute
        self._requests = None if rpm is None else _Budget(rpm, now)
        self._tokens = None if tpm is None else _Budget(tpm, now)
        self._hold = 0.0  # no request starts before this (the provider said so)

    def reserve(self, tokens: int) -> float:
        """Book a request of ``tokens`` estimated tokens; seconds to wait."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._hold)
            if self._requests is not None:
                start = max(start, self._requests.turn(now))
            if self._tokens is not None:
                start = max(start, self._tokens.turn(now))
            if self._requests is not None:
                self._requests.book(1, start - now)
            if self._tokens is not None:
                self._tokens.book(tokens, start - now)
            return start - now

    def settle(self, booked: int, used: int) -> None:
        """A request that booked ``booked`` tokens used ``used``."""
        if self._tokens is None or booked == used:
            return
        with self._lock:
            self._tokens.level += booked - used

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Adapt to what the provider says of its own limits."""
        hold = 0.0
        if status == 429:
            hold = retry_after_seconds(headers) or 0.0
        for kind in ("requests", "tokens"):
            remaining = _number(
                headers.get(f"x-ratelimit-remaining-{kind}")
                or headers.get(f"anthropic-ratelimit-{kind}-remaining")
            )
            if remaining is not None and remaining <= 0:
                reset = parse_reset(
                    headers.get(f"x-ratelimit-reset-{kind}")
                    or headers.get(f"anthropic-ratelimit-{kind}-reset")
                )
                hold = max(hold, reset if reset is not None else 1.0)
        if hold > 0:
            with self._lock:
                self._hold = max(self._hold, time.monotonic() + min(hold, 60.0))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str | None) -> float | None:
    """Seconds until a reset given as OpenAI's ``1m30s`` / ``250ms``, plain
    seconds, or Anthropic's RFC 3339 instant; None when unreadable."""
    if not value:
        return None
    value = value.strip()
    number = _number(value)
    if number is not None:
        return max(0.0, number)
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return sum(float(n) * _UNIT[u] for n, u in parts)
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        return None
    return max(0.0, instant.timestamp() - time.time())
