"""Rate limits, measured where they matter: the times at which the emulator
received the requests."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import anyio
import pytest

import rill
from rill._ratelimit import RateLimiter, parse_reset
from rill.testing import Emulator, Script


def client(emu: Emulator, limit: rill.RateLimit, **kw: Any) -> rill.Client:
    return rill.Client(
        model="openai/gpt-4o-mini",
        api_keys={"openai": "sk-test-limit-0000"},
        base_urls={"openai": emu.base_url},
        rate_limits={"openai": limit},
        tracing=False,
        **kw,
    )


def gaps(emu: Emulator) -> list[float]:
    times = sorted(r.received_at for r in emu.requests)
    return [b - a for a, b in itertools.pairwise(times)]


async def test_sync_and_async_calls_share_one_limit(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, rill.RateLimit(requests_per_minute=240))  # 0.25 s apart
    errors: list[BaseException] = []

    def sync_call() -> None:
        try:
            c.generate("Hi")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync_call) for _ in range(3)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.02)
            ticks += 1

    start = time.monotonic()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ticker)
        for t in threads:
            t.start()
        async with anyio.create_task_group() as calls:
            for _ in range(3):
                calls.start_soon(c.agenerate, "Hi")

        def join() -> None:
            for t in threads:
                t.join(10)

        await anyio.to_thread.run_sync(join)
        tasks.cancel_scope.cancel()
    elapsed = time.monotonic() - start
    assert not errors
    spacing = gaps(rill_emulator)
    assert len(spacing) == 5
    # never closer than the limit allows: arrivals carry the scheduling jitter
    # of both sides (one late arrival shortens the next gap), hence the slack;
    # without the limit the gaps are a few milliseconds ...
    assert min(spacing) >= 0.25 - 0.08, spacing
    # ... and no slower than it needs to be
    assert elapsed < 5 * 0.25 + 0.8, elapsed
    # the event loop kept running while the async calls waited their turn
    assert ticks >= 30


def test_usage_corrects_the_token_estimate(rill_emulator: Emulator) -> None:
    # 40 tokens/s; each call books ~13 prompt tokens + max_tokens 7 = 20 (0.5 s
    # of budget) but uses 9 (1 prompt word + 8 pieces): corrected, 0.225 s.
    c = client(rill_emulator, rill.RateLimit(tokens_per_minute=2400))
    prompt = "x" * 36
    eight_pieces = "Hello from the emulator. Hello there again"
    rill_emulator.enqueue(*[Script.of_text(eight_pieces)] * 4)
    for _ in range(4):
        response = c.generate(prompt, max_tokens=7)
    assert response.usage.total_tokens == 9 and not response.usage.estimated
    spacing = gaps(rill_emulator)
    assert all(0.18 <= g <= 0.4 for g in spacing), spacing


def test_the_providers_remaining_zero_holds_the_next_request(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, rill.RateLimit(requests_per_minute=60_000))
    exhausted = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "600ms"}
    rill_emulator.enqueue(Script.of_text("one", headers=exhausted), Script.of_text("two"))
    c.generate("Hi")
    c.generate("Hi")
    (gap,) = gaps(rill_emulator)
    assert 0.55 <= gap <= 1.5


def test_retry_after_holds_every_caller(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, rill.RateLimit(requests_per_minute=60_000), max_retries=0)
    rill_emulator.enqueue(Script.of_status(429, headers={"retry-after": "0.5"}))
    with pytest.raises(rill.RateLimitError):
        c.generate("Hi")
    c.generate("Hi")  # another call waits out the provider's retry-after
    (gap,) = gaps(rill_emulator)
    assert 0.45 <= gap <= 1.3


def test_per_key_budgets_are_separate(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, rill.RateLimit(requests_per_minute=60, per_key=True))
    start = time.monotonic()
    c.generate("Hi", api_key="sk-key-one-11111")
    c.generate("Hi", api_key="sk-key-two-22222")
    assert time.monotonic() - start < 0.8  # two keys: no wait
    c.generate("Hi", api_key="sk-key-one-11111")
    assert time.monotonic() - start >= 0.95  # the first key's second request waited 1 s


def test_bad_limits_are_refused() -> None:
    with pytest.raises(rill.InvalidRequestError):
        rill.RateLimit()
    with pytest.raises(rill.InvalidRequestError):
        rill.RateLimit(requests_per_minute=0)
    with pytest.raises(rill.InvalidRequestError):
        rill.Client(rate_limits={"openai": {"requests_per_minute": 5}})  # type: ignore[dict-item]


def test_reset_formats() -> None:
    assert parse_reset("1m30s") == 90.0
    assert parse_reset("250ms") == 0.25
    assert parse_reset("6m0s") == 360.0
    assert parse_reset("2") == 2.0
    assert parse_reset("soon") is None
    assert parse_reset(None) is None
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30))
    got = parse_reset(later)
    assert got is not None and 28 <= got <= 31


def test_limiter_books_turns_evenly() -> None:
    limiter = RateLimiter(rill.RateLimit(requests_per_minute=600))  # 0.1 s apart
    waits = [limiter.reserve(0) for _ in range(5)]
    assert waits[0] == 0.0
    for i, wait in enumerate(waits):
        assert i * 0.1 - 0.01 <= wait <= i * 0.1 + 0.01
