"""Batch generation: input order, bounded concurrency, errors returned when
asked, a progress bar, and no event loop started inside a running one."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

import rill
from rill.testing import Emulator, Script


def client(emu: Emulator, **kw: Any) -> rill.Client:
    return rill.Client(
        model="openai/gpt-4o-mini",
        api_keys={"openai": "sk-test-batch-0000"},
        base_urls={"openai": emu.base_url},
        tracing=False,
        **kw,
    )


def test_order_is_kept_and_concurrency_bounded(rill_emulator: Emulator) -> None:
    rill_emulator.default = Script.of_text("ok", ttft=0.3)
    c = client(rill_emulator)
    prompts = [f"prompt {i}" for i in range(6)]
    results = c.generate_batch(prompts, max_concurrency=3, progress=False)
    # each result answers its own prompt (the emulator names it back as the id
    # order is scrambled by concurrency, so match by request content)
    assert [r.content for r in results] == ["ok"] * 6
    asked = [r.json["messages"][0]["content"] for r in rill_emulator.requests]
    assert sorted(asked) == prompts
    times = sorted(r.received_at for r in rill_emulator.requests)
    assert times[2] - times[0] < 0.25  # three at once ...
    assert times[3] - times[0] >= 0.28  # ... the fourth only when one finished


def test_results_follow_input_order(rill_emulator: Emulator) -> None:
    c = client(rill_emulator)
    rill_emulator.enqueue(Script.of_text("slow first", ttft=0.4), Script.of_text("fast second"))
    results = c.generate_batch(["first", "second"], max_concurrency=2, progress=False)
    by_prompt = {r.json["messages"][0]["content"]: i for i, r in enumerate(rill_emulator.requests)}
    expected = ["slow first", "fast second"]
    assert [r.content for r in results] == [expected[by_prompt[p]] for p in ("first", "second")]


def test_errors_are_returned_when_asked(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, max_retries=0)
    rill_emulator.enqueue(Script.of_text("one"))
    rill_emulator.enqueue(Script.of_status(400))
    rill_emulator.enqueue(Script.of_text("three"))
    results = c.generate_batch(["a", "b", "c"], max_concurrency=1, return_exceptions=True)
    assert isinstance(results[1], rill.BadRequestError)
    assert [getattr(r, "content", None) for r in results] == ["one", None, "three"]
    rill_emulator.enqueue(Script.of_status(400))
    with pytest.raises(rill.BadRequestError):
        c.generate_batch(["a", "b"], max_concurrency=1)


async def test_sync_batch_inside_a_running_loop(rill_emulator: Emulator) -> None:
    c = client(rill_emulator)
    results = c.generate_batch(["a", "b", "c"], max_concurrency=2, progress=False)
    assert len(results) == 3 and all(r.content for r in results)


async def test_async_batch(rill_emulator: Emulator) -> None:
    rill_emulator.default = Script.of_text("ok")
    c = client(rill_emulator, max_retries=0)
    results = await c.agenerate_batch([f"p{i}" for i in range(6)], max_concurrency=2)
    assert [r.content for r in results] == ["ok"] * 6
    rill_emulator.default = Script.of_status(400)
    out = await c.agenerate_batch(["x", "y"], return_exceptions=True)
    assert all(isinstance(r, rill.BadRequestError) for r in out)
    with pytest.raises(rill.BadRequestError):
        await c.agenerate_batch(["x", "y"])


def test_batch_misconfiguration_raises_before_any_request(rill_emulator: Emulator) -> None:
    c = client(rill_emulator)
    with pytest.raises(rill.InvalidRequestError):
        c.generate_batch(["ok", [{"role": "bogus", "content": "x"}]], max_concurrency=2)
    with pytest.raises(rill.InvalidRequestError):
        c.generate_batch("one string")
    with pytest.raises(rill.InvalidRequestError):
        c.generate_batch(["a"], max_concurrency=0)
    assert rill_emulator.requests == []


def test_progress_bar_shows_counts(
    rill_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    out = io.StringIO()
    import rich.progress

    original = rich.progress.Progress.__init__

    def init(self: Any, *columns: Any, **kw: Any) -> None:
        kw["console"] = Console(file=out, force_terminal=True, width=200)
        original(self, *columns, **kw)

    monkeypatch.setattr(rich.progress.Progress, "__init__", init)
    c = client(rill_emulator, max_retries=0)
    rill_emulator.enqueue(Script.of_text("a", usage=(10, 5)), Script.of_status(400))
    c.generate_batch(["a", "b"], max_concurrency=1, progress=True, return_exceptions=True)
    text = out.getvalue()
    assert "2/2" in text and "1 failed" in text and "15 tokens" in text and "$" in text


def test_asyncio_run_is_never_called(
    rill_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kw: Any) -> None:
        raise AssertionError("asyncio.run called")

    monkeypatch.setattr(asyncio, "run", refuse)
    assert len(client(rill_emulator).generate_batch(["a"], progress=False)) == 1


def test_batches_use_the_cache_and_the_client_callback(rill_emulator: Emulator) -> None:
    seen: list[rill.StreamChunk] = []
    c = client(rill_emulator, cache=rill.MemoryCache(), callback=seen.append)
    first = c.generate_batch(["a", "b"], max_concurrency=1, progress=False)
    again = c.generate_batch(["b", "a"], max_concurrency=1, progress=False)
    assert [r.cached for r in first] == [False, False]
    assert [r.cached for r in again] == [True, True]
    assert len(rill_emulator.requests) == 2
    assert "".join(ch.content for ch in seen) == "".join(r.content for r in first + again)
