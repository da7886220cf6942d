"""Deadlines bound every phase of a call, with any client, sync and async.

Each timed test asserts the elapsed time against the bound that should fire
and below the bound that must not, so a test cannot pass on the wrong bound.
(The fault matrix in test_fault_matrix.py covers every protocol; this file
covers the mechanism: user clients, transports rill cannot wrap, retries
against the total, and a slow consumer.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

import rill
from rill.testing import Emulator, Fault, Script

TEXT = "one two three four five six seven eight nine ten " * 4
# The first output ("one") is past the role chunk; a stall here is after it.
AFTER_FIRST_OUTPUT = 700


def opts(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return {"model": "vllm/m", "base_url": emu.base_url, "max_retries": 0, **extra}


def elapsed_since(start: float) -> float:
    return time.perf_counter() - start


IDLE = rill.Timeouts(connect=5, first_token=6, idle=0.4)


@pytest.mark.parametrize("client", ["default", "own"])
def test_idle_fires_at_its_bound_sync(rill_emulator: Emulator, client: str) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.stall_after(AFTER_FIRST_OUTPUT, 8),)))
    http = httpx.Client() if client == "own" else None
    start = time.perf_counter()
    with pytest.raises(rill.TimeoutError) as info:
        rill.generate("Hi", http_client=http, **opts(rill_emulator, timeout=IDLE))
    took = elapsed_since(start)
    assert info.value.phase == "idle"
    assert 0.35 <= took < 3.0, took  # the idle bound, far below first_token (6 s)
    assert info.value.partial is not None and TEXT.startswith(info.value.partial.content)
    assert info.value.partial.content
    if http is not None:
        http.close()
    assert rill_emulator.wait_closed()


@pytest.mark.parametrize("client", ["default", "own"])
async def test_idle_fires_at_its_bound_async(rill_emulator: Emulator, client: str) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.stall_after(AFTER_FIRST_OUTPUT, 8),)))
    http = httpx.AsyncClient() if client == "own" else None
    start = time.perf_counter()
    with pytest.raises(rill.TimeoutError) as info:
        await rill.agenerate("Hi", http_client=http, **opts(rill_emulator, timeout=IDLE))
    took = elapsed_since(start)
    assert info.value.phase == "idle"
    assert 0.35 <= took < 3.0, took
    if http is not None:
        await http.aclose()
    assert await rill_emulator.await_closed()


def test_a_slow_consumer_is_not_an_idle_server(rill_emulator: Emulator) -> None:
    """The idle clock measures the server's silence, not the caller's work."""
    rill_emulator.enqueue(Script.of_text("a b c d", tokens_per_second=100))
    timeouts = rill.Timeouts(connect=5, first_token=5, idle=0.3)
    pieces = []
    for chunk in rill.generate_stream("Hi", **opts(rill_emulator, timeout=timeouts)):
        pieces.append(chunk.content)
        time.sleep(0.4)  # longer than idle, each time
    assert "".join(pieces) == "a b c d"


def test_total_bounds_a_stream_that_keeps_sending(rill_emulator: Emulator) -> None:
    """Output every 0.1 s keeps idle quiet; only total can stop it."""
    rill_emulator.enqueue(Script.of_text(TEXT * 3, tokens_per_second=10))
    timeouts = rill.Timeouts(connect=5, first_token=5, idle=5, total=0.8)
    start = time.perf_counter()
    with pytest.raises(rill.TimeoutError) as info:
        rill.generate("Hi", **opts(rill_emulator, timeout=timeouts))
    assert info.value.phase == "total"
    assert 0.75 <= elapsed_since(start) < 2.5


def test_retry_after_beyond_the_total_raises_at_once(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_status(429, headers={"retry-after": "100"}))
    start = time.perf_counter()
    with pytest.raises(rill.RateLimitError) as info:
        rill.generate("Hi", **opts(rill_emulator, max_retries=3, timeout=rill.Timeouts(total=3)))
    assert elapsed_since(start) < 1.0
    assert info.value.retry_after == 100
    assert len(rill_emulator.requests) == 1


def test_retry_after_within_the_total_is_honoured(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script.of_status(429, headers={"retry-after": "0.5"}), Script.of_text("fine")
    )
    start = time.perf_counter()
    resp = rill.generate("Hi", **opts(rill_emulator, max_retries=1, timeout=rill.Timeouts(total=5)))
    assert resp.content == "fine"
    assert 0.45 <= elapsed_since(start) < 4.0


def test_backoff_never_sleeps_past_the_total(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(*[Script.of_status(503) for _ in range(5)])
    start = time.perf_counter()
    with pytest.raises(rill.ServerError):
        rill.generate("Hi", **opts(rill_emulator, max_retries=5, timeout=rill.Timeouts(total=1)))
    assert elapsed_since(start) < 1.2


# ------------------------------------------------- transports rill cannot wrap


class _Stalling(httpx.AsyncByteStream):
    def __init__(self, first: bytes, stall: float) -> None:
        self.first, self.stall = first, stall

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        await anyio.sleep(self.stall)
        yield b"data: [DONE]\n\n"


FIRST = b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'


async def test_a_custom_async_transport_is_bounded_per_read() -> None:
    """A transport whose sockets rill cannot reach gets a cancel scope per read."""

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Stalling(FIRST, 8))

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    start = time.perf_counter()
    with pytest.raises(rill.TimeoutError) as info:
        await rill.agenerate(
            "Hi", model="vllm/m", base_url="http://x/v1", http_client=http, timeout=IDLE
        )
    assert info.value.phase == "idle"
    assert 0.35 <= elapsed_since(start) < 3.0
    assert info.value.partial is not None and info.value.partial.content == "Hel"


async def test_a_custom_async_transport_with_slow_headers_hits_first_token() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(8)
        return httpx.Response(200, content=FIRST)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    timeouts = rill.Timeouts(connect=5, first_token=0.4, idle=6)
    start = time.perf_counter()
    with pytest.raises(rill.TimeoutError) as info:
        await rill.agenerate(
            "Hi",
            model="vllm/m",
            base_url="http://x/v1",
            http_client=http,
            timeout=timeouts,
            max_retries=0,
        )
    assert info.value.phase == "first_token"
    assert 0.35 <= elapsed_since(start) < 3.0


# ------------------------------------------------------------- call checks


def test_an_async_callback_on_the_sync_api_is_refused_at_the_call() -> None:
    async def callback(chunk: rill.StreamChunk) -> None:
        pass

    with pytest.raises(rill.InvalidRequestError, match="coroutine"):
        rill.generate_stream("Hi", model="vllm/m", callback=callback)


# ----------------------------------------------------------- status and body


def test_a_redirect_is_never_followed_even_by_a_client_that_would(
    rill_emulator: Emulator,
) -> None:
    with Emulator() as elsewhere:
        target = f"{elsewhere.base_url}/chat/completions"
        rill_emulator.enqueue(Script.of_status(307, headers={"location": target}))
        with httpx.Client(follow_redirects=True) as http, pytest.raises(rill.RedirectError) as info:
            rill.generate(
                "Hi", http_client=http, api_key="sk-redirect-secret-0001", **opts(rill_emulator)
            )
        assert info.value.status_code == 307
        assert info.value.location == target
        assert target in str(info.value)
        assert elsewhere.requests == []


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_success_names_its_status(rill_emulator: Emulator, status: int) -> None:
    rill_emulator.enqueue(Script.of_body(b"", status=status))
    with pytest.raises(rill.ProtocolError, match=f"HTTP {status} with an empty body"):
        rill.generate("Hi", **opts(rill_emulator))


def test_an_error_body_is_read_up_to_a_bound(rill_emulator: Emulator) -> None:
    huge = b'{"error": {"message": "' + b"x" * (8 << 20) + b'"}}'
    rill_emulator.enqueue(Script.of_status(500, error_body=huge))
    with pytest.raises(rill.ServerError) as info:
        rill.generate("Hi", **opts(rill_emulator))
    assert isinstance(info.value.body, str)  # cut, so no longer JSON
    assert len(info.value.body) <= 1 << 20


# ------------------------------------------------------------ content-encoding


def test_a_gzip_stream_is_inflated_as_it_arrives(rill_emulator: Emulator) -> None:
    import gzip

    body = b"".join(
        b'data: {"choices":[{"index":0,"delta":{"content":"%s "}}]}\n\n' % word.encode()
        for word in TEXT.split()
    )
    rill_emulator.enqueue(
        Script.of_body(
            gzip.compress(body + b"data: [DONE]\n\n"),
            headers={"content-encoding": "gzip"},
            body_chunk_size=97,
        )
    )
    resp = rill.generate("Hi", **opts(rill_emulator))
    assert resp.content.split() == TEXT.split()
    assert rill_emulator.requests[-1].headers["accept-encoding"] == "gzip, deflate"


def test_an_unsupported_encoding_is_a_protocol_error(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_body(b"\x00\x01", headers={"content-encoding": "br"}))
    with pytest.raises(rill.ProtocolError, match="unsupported content-encoding 'br'"):
        rill.generate("Hi", **opts(rill_emulator))


BOMB = """
import gzip, resource, sys, zlib
import rill
from rill.testing import Emulator, Script

# 1 GiB of "a" after "data: ": an event that never ends, about 1 MB gzipped.
piece = zlib.compressobj(9, zlib.DEFLATED, 31)
zeros = b"a" * (1 << 20)
parts = [piece.compress(b"data: ")]
parts += [piece.compress(zeros) for _ in range(1024)]
parts.append(piece.flush())
bomb = b"".join(parts)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with Emulator() as emu:
    emu.enqueue(Script.of_body(bomb, headers={"content-encoding": "gzip"}))
    try:
        rill.generate("Hi", model="vllm/m", base_url=emu.base_url, max_retries=0)
    except rill.ProtocolError as exc:
        print(type(exc).__name__, "max_event_bytes" in str(exc))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(bomb), before, after)
"""


def test_a_decompression_bomb_stays_within_the_event_bound() -> None:
    """Peak memory measured in a child process: inflating in bounded pieces
    keeps it near the 16 MiB event bound, not the 1 GiB the body inflates to."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", BOMB], capture_output=True, text=True, timeout=120, check=True
    )
    verdict, sizes = done.stdout.splitlines()
    assert verdict == "ProtocolError True"
    compressed, before_kb, after_kb = map(int, sizes.split())
    assert compressed < 8 << 20
    grown_mb = (after_kb - before_kb) / 1024
    assert grown_mb < 48, grown_mb  # one event bound (16 MiB), its join, 64 KiB pieces


def test_a_whole_body_is_held_only_up_to_max_event_bytes(rill_emulator: Emulator) -> None:
    """A provider that cannot stream sends one body, kept whole: it is bounded
    like an event."""
    from dataclasses import replace

    from rill.providers import get_provider

    rill.register_provider(
        replace(get_provider("vllm"), name="vllm-whole", streaming=False), replace=True
    )
    rill_emulator.enqueue(Script.of_text("word " * 2000))
    with pytest.raises(rill.ProtocolError, match="larger than max_event_bytes=4096"):
        rill.generate("Hi", **opts(rill_emulator, model="vllm-whole/m", max_event_bytes=4096))
    rill_emulator.enqueue(Script.of_text("word " * 20))
    resp = rill.generate("Hi", **opts(rill_emulator, model="vllm-whole/m", max_event_bytes=4096))
    assert resp.content == "word " * 20
