"""Leaving a stream early closes the HTTP response and frees the connection:
``break`` then drop, leaving ``with``, ``close()``, cancelling the task, and
garbage collection of an abandoned stream. The emulator counts open TCP
connections, so each test sees the server side of the release."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

import rill
from rill.testing import Emulator, Script

LONG = Script.of_text("word " * 400, tokens_per_second=200)


def opts(emu: Emulator) -> dict[str, Any]:
    return {"model": "vllm/m", "base_url": emu.base_url}


@pytest.fixture
def fresh_client() -> Iterator[httpx.Client]:
    """A client whose pool dies with the test, so 'closed' means really closed."""
    with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


def first_content(stream: Any) -> None:
    for chunk in stream:
        if chunk.content:
            return


def test_break_then_drop(rill_emulator: Emulator, fresh_client: httpx.Client) -> None:
    rill_emulator.enqueue(LONG)
    stream = rill.generate_stream("Hi", http_client=fresh_client, **opts(rill_emulator))
    first_content(stream)
    assert rill_emulator.open_connections == 1
    del stream
    gc.collect()
    assert rill_emulator.wait_closed(timeout=5)


def test_leaving_with(rill_emulator: Emulator, fresh_client: httpx.Client) -> None:
    rill_emulator.enqueue(LONG)
    with rill.generate_stream("Hi", http_client=fresh_client, **opts(rill_emulator)) as stream:
        first_content(stream)
    assert rill_emulator.wait_closed(timeout=5)
    # The partial stays readable after closing.
    assert stream.response.content.startswith("word")


def test_close_releases_the_pooled_connection_for_reuse(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(LONG, Script.of_text("again"))
    with httpx.Client() as client:
        stream = rill.generate_stream("Hi", http_client=client, **opts(rill_emulator))
        first_content(stream)
        stream.close()
        assert rill.generate("Hi", http_client=client, **opts(rill_emulator)).content == "again"
    assert rill_emulator.wait_closed(timeout=5)


def test_exception_in_the_loop_body(rill_emulator: Emulator, fresh_client: httpx.Client) -> None:
    rill_emulator.enqueue(LONG)
    with (
        pytest.raises(KeyError),
        rill.generate_stream("Hi", http_client=fresh_client, **opts(rill_emulator)) as stream,
    ):
        first_content(stream)
        raise KeyError("user code failed")
    assert rill_emulator.wait_closed(timeout=5)


async def test_async_leaving_with(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(LONG)
    async with rill.agenerate_stream("Hi", **opts(rill_emulator)) as stream:
        async for chunk in stream:
            if chunk.content:
                break
    assert rill_emulator.wait_closed(timeout=5)


async def test_cancelling_the_task(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(LONG)
    started = anyio.Event()

    async def consume() -> None:
        async for chunk in rill.agenerate_stream("Hi", **opts(rill_emulator)):
            if chunk.content:
                started.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await started.wait()
        assert rill_emulator.open_connections == 1
        tg.cancel_scope.cancel()
    assert rill_emulator.wait_closed(timeout=5)


async def test_dropping_an_async_stream(rill_emulator: Emulator, anyio_backend: str) -> None:
    if anyio_backend == "trio":
        pytest.skip("trio finalizes an abandoned async generator with a ResourceWarning: use with")
    rill_emulator.enqueue(LONG)
    stream = rill.agenerate_stream("Hi", **opts(rill_emulator))
    async for chunk in stream:
        if chunk.content:
            break
    del stream, chunk
    gc.collect()
    # asyncio finalizes the abandoned generator on the loop: give it turns to run.
    for _ in range(50):
        await anyio.sleep(0.01)
        if rill_emulator.open_connections == 0:
            break
    assert rill_emulator.wait_closed(timeout=5)
