"""HTTP/2 stays available through a user's httpx client: rill streams over
it (sync and async), with its deadlines and its pooling, against an origin
that speaks nothing but HTTP/2."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme

import rill

from .h2origin import H2Origin

PIECES = [f"w{i} " for i in range(20)]


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def origin(ca: trustme.CA) -> Iterator[H2Origin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    server = H2Origin(context, PIECES)
    yield server
    server.close()


def _verify(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_a_sync_httpx_client_with_http2_streams_over_h2(origin: H2Origin, ca: trustme.CA) -> None:
    with httpx.Client(http2=True, verify=_verify(ca)) as client:
        kw: dict[str, Any] = {
            "model": "vllm/m",
            "base_url": origin.url,
            "http_client": client,
            "max_retries": 0,
        }
        pieces = [c.content for c in rill.generate_stream("Hi", **kw) if c.content]
        again = rill.generate("Hi", **kw)
    assert pieces == PIECES
    assert again.content == "".join(PIECES)
    assert origin.alpn == ["h2"]
    # Both calls were streams of the one HTTP/2 connection.
    assert origin.streams_per_connection == [2]
    assert origin.paths == ["/v1/chat/completions"] * 2


async def test_an_async_httpx_client_with_http2_streams_over_h2(
    origin: H2Origin, ca: trustme.CA
) -> None:
    async with httpx.AsyncClient(http2=True, verify=_verify(ca)) as client:
        kw: dict[str, Any] = {
            "model": "vllm/m",
            "base_url": origin.url,
            "http_client": client,
            "max_retries": 0,
        }
        pieces = [c.content async for c in rill.agenerate_stream("Hi", **kw) if c.content]
    assert pieces == PIECES
    assert origin.alpn == ["h2"]


def test_the_idle_deadline_holds_over_http2(ca: trustme.CA) -> None:
    """A stream that goes silent on an HTTP/2 connection ends at the idle
    bound, not at httpx's own timeouts (there are none on this client)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    slow = H2Origin(context, ["a", "b"], pause=2.0)
    try:
        with httpx.Client(http2=True, verify=_verify(ca), timeout=None) as client:
            stream = rill.generate_stream(
                "Hi",
                model="vllm/m",
                base_url=slow.url,
                http_client=client,
                max_retries=0,
                timeout=rill.Timeouts(connect=5, first_token=5, idle=0.5),
            )
            started = time.perf_counter()
            with pytest.raises(rill.TimeoutError, match="idle"):
                for _ in stream:
                    started = time.perf_counter()
            waited = time.perf_counter() - started
    finally:
        slow.close()
    assert 0.45 <= waited < 1.5
