"""The transport seam as a user meets it: which transport a call gets, pooling
per event loop, connections released at loop shutdown, and the clients a user
may pass. Connections are counted by the emulator, from the server's side."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import aiohttp
import httpx
import pytest
import trio

import rill
from rill.testing import Emulator, Script

from .pools import own_sync_pool

TEXT = "one two three four five"


def opts(emu: Emulator) -> dict[str, Any]:
    return {"model": "vllm/m", "base_url": emu.base_url, "max_retries": 0}


def test_sequential_async_calls_on_one_loop_share_one_connection(
    rill_emulator: Emulator,
) -> None:
    async def main() -> list[str]:
        texts = []
        for _ in range(5):
            rill_emulator.enqueue(Script.of_text(TEXT))
            texts.append((await rill.agenerate("Hi", **opts(rill_emulator))).content)
        return texts

    assert asyncio.run(main()) == [TEXT] * 5
    assert rill_emulator.connections_served == 1
    # asyncio.run shut the loop down, and with it the loop's pool.
    assert rill_emulator.wait_closed(timeout=2)


def test_sequential_sync_calls_share_one_connection(rill_emulator: Emulator) -> None:
    with own_sync_pool():
        for _ in range(5):
            rill_emulator.enqueue(Script.of_text(TEXT, tokens_per_second=500))
            assert rill.generate("Hi", **opts(rill_emulator)).content == TEXT
        assert rill_emulator.connections_served == 1
    assert rill_emulator.wait_closed(timeout=2)


def test_two_event_loops_never_share_a_connection(rill_emulator: Emulator) -> None:
    async def one_call() -> str:
        rill_emulator.enqueue(Script.of_text(TEXT))
        return (await rill.agenerate("Hi", **opts(rill_emulator))).content

    assert asyncio.run(one_call()) == TEXT
    assert rill_emulator.wait_closed(timeout=2)
    assert asyncio.run(one_call()) == TEXT
    assert rill_emulator.connections_served == 2
    assert rill_emulator.wait_closed(timeout=2)


def test_concurrent_calls_on_one_loop_are_pooled(rill_emulator: Emulator) -> None:
    async def main() -> None:
        for _ in range(2):  # the second round reuses the first round's connections
            for _ in range(4):
                rill_emulator.enqueue(Script.of_text(TEXT, tokens_per_second=200))
            results = await asyncio.gather(
                *(rill.agenerate("Hi", **opts(rill_emulator)) for _ in range(4))
            )
            assert [r.content for r in results] == [TEXT] * 4

    asyncio.run(main())
    assert rill_emulator.connections_served == 4
    assert rill_emulator.wait_closed(timeout=2)


def test_a_user_aiohttp_session_is_used_and_left_open(rill_emulator: Emulator) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                rill_emulator.enqueue(Script.of_text(TEXT))
                resp = await rill.agenerate("Hi", http_client=http, **opts(rill_emulator))
                assert resp.content == TEXT
            assert not http.closed
            assert rill_emulator.connections_served == 1

    asyncio.run(main())
    assert rill_emulator.wait_closed(timeout=2)


def test_a_user_httpx_async_client_is_used(rill_emulator: Emulator) -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                rill_emulator.enqueue(Script.of_text(TEXT))
                resp = await rill.agenerate("Hi", http_client=http, **opts(rill_emulator))
                assert resp.content == TEXT

    asyncio.run(main())
    assert rill_emulator.connections_served == 1
    assert rill_emulator.wait_closed(timeout=2)


def test_trio_runs_on_httpx(rill_emulator: Emulator) -> None:
    async def main() -> str:
        rill_emulator.enqueue(Script.of_text(TEXT))
        async with rill.agenerate_stream("Hi", **opts(rill_emulator)) as stream:
            return "".join([chunk.content async for chunk in stream])

    assert trio.run(main) == TEXT
    assert rill_emulator.wait_closed(timeout=2)


def test_a_client_of_the_wrong_kind_is_refused_at_the_call() -> None:
    with pytest.raises(rill.InvalidRequestError, match=r"httpx\.AsyncClient or an aiohttp"):
        rill.agenerate_stream("Hi", model="vllm/m", http_client=httpx.Client())  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError, match=r"httpx\.Client for the sync API"):
        rill.generate_stream("Hi", model="vllm/m", http_client=httpx.AsyncClient())  # type: ignore[arg-type]


def test_import_rill_imports_no_transport_library() -> None:
    code = (
        "import sys, rill; "
        "print(sorted(m for m in ('httpx', 'httpcore', 'aiohttp', 'anyio', 'pydantic') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
