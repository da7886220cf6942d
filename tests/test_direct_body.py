"""rill's own sync client reads a chunked HTTP/1.1 body from the socket
(``transports._direct``), not through httpx: it must decode every framing the
same, keep the pool correct (a connection is reused only after a body read to
its clean end), and fail with rill's typed errors.

The origin writes each response exactly as scripted (``rawhttp``), so the
head can arrive with body bytes after it, chunks can carry extensions and
trailers, and a body can be cut mid-chunk or followed by stray bytes.
"""

from __future__ import annotations

import gzip
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

import rill
from rill.transports import _direct

from .h2origin import chat_events
from .pools import own_sync_pool
from .proxy import TunnelProxy
from .rawhttp import RawOrigin, chunked, head

PIECES = ["héllo", " wörld", " 日本語", " 🙂", " end"]
TEXT = "".join(PIECES)
EVENTS = chat_events(PIECES)
LAST = b"0\r\n\r\n"
CHUNKED = {"transfer-encoding": "chunked"}


@pytest.fixture(params=["socket", "stream"])
def origin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[RawOrigin]:
    """The origin; the body read with ``recv`` on the socket, or through
    httpcore's network stream (as a stream that is not a plain socket is)."""
    if request.param == "stream":
        monkeypatch.setattr(_direct, "_socket", lambda stream: None)
    with own_sync_pool(), RawOrigin() as server:
        yield server


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each body, whether the direct reader took it."""
    seen: list[bool] = []
    take = _direct.DirectBody.take

    def spy(response: httpx.Response) -> _direct.DirectBody | None:
        body = take(response)
        seen.append(body is not None)
        return body

    monkeypatch.setattr(_direct.DirectBody, "take", staticmethod(spy))
    return seen


def generate(server: RawOrigin, **options: Any) -> rill.GenerationResponse:
    return rill.generate("Hi", model="vllm/m", base_url=server.base_url, max_retries=0, **options)


def test_one_chunk_per_event_paced(origin: RawOrigin, taken: list[bool]) -> None:
    origin.reply(head(CHUNKED), *[chunked(e) for e in EVENTS], LAST, pause=0.005)
    assert generate(origin).content == TEXT
    assert taken == [True]


def test_body_bytes_that_came_with_the_head(origin: RawOrigin, taken: list[bool]) -> None:
    body = chunked(*EVENTS)
    origin.reply(head(CHUNKED) + body[:50], body[50:] + LAST)
    origin.reply(head(CHUNKED) + body + LAST)  # the whole response in one write
    assert generate(origin).content == TEXT
    assert generate(origin).content == TEXT
    assert taken == [True, True]
    assert origin.connections == 1


def test_extensions_trailers_and_odd_splits(origin: RawOrigin) -> None:
    body = chunked(*EVENTS, ext=b";name=value") + b"0;end\r\nX-Checksum: 1\r\n\r\n"
    writes = [body[i : i + 7] for i in range(0, len(body), 7)]
    origin.reply(head(CHUNKED), *writes, pause=0.001)
    origin.reply(head(CHUNKED) + body)
    assert generate(origin).content == TEXT
    assert generate(origin).content == TEXT
    assert origin.connections == 1


def test_sequential_calls_share_one_connection(origin: RawOrigin, taken: list[bool]) -> None:
    for _ in range(4):
        origin.reply(head(CHUNKED), chunked(*EVENTS) + LAST)
    assert [generate(origin).content for _ in range(4)] == [TEXT] * 4
    assert taken == [True] * 4
    assert origin.connections == 1
    assert origin.hangups == 0


def test_stopping_early_closes_the_connection(origin: RawOrigin) -> None:
    origin.reply(head(CHUNKED), *[chunked(e) for e in EVENTS], LAST, pause=0.01)
    origin.reply(head(CHUNKED), chunked(*EVENTS) + LAST)
    with rill.generate_stream("Hi", model="vllm/m", base_url=origin.base_url) as stream:
        first = next(iter(stream))
    assert first.content == PIECES[0]
    assert origin.wait_hangups(1)
    assert generate(origin).content == TEXT
    assert origin.connections == 2


def test_bytes_after_the_end_keep_the_connection_out_of_the_pool(origin: RawOrigin) -> None:
    origin.reply(head(CHUNKED), chunked(*EVENTS) + LAST + b"HTTP/1.1 200 OK\r\n")
    origin.reply(head(CHUNKED), chunked(*EVENTS) + LAST)
    assert generate(origin).content == TEXT
    assert origin.wait_hangups(1)
    assert generate(origin).content == TEXT
    assert origin.connections == 2


@pytest.mark.parametrize("together", [True, False], ids=["one-read", "own-read"])
def test_bad_chunk_size_is_a_protocol_error(origin: RawOrigin, together: bool) -> None:
    """The event before the bad framing is delivered, even from the same read."""
    good, bad = chunked(EVENTS[0]), b"zz\r\n" + EVENTS[1] + b"\r\n"
    writes = [head(CHUNKED) + good + bad] if together else [head(CHUNKED), good, bad]
    origin.reply(*writes, pause=0.02)
    with pytest.raises(rill.ProtocolError, match="chunk size") as info:
        generate(origin)
    assert info.value.partial is not None and info.value.partial.content == PIECES[0]
    assert origin.wait_hangups(1)


@pytest.mark.parametrize("ending", ["close", "reset"])
def test_cut_mid_chunk_is_an_incomplete_stream(origin: RawOrigin, ending: str) -> None:
    """The connection closed, or reset, inside the second chunk."""
    cut = chunked(EVENTS[1])[:-10]
    how = {ending: True}
    origin.reply(head(CHUNKED), chunked(EVENTS[0]), cut, pause=0.02, **how)
    with pytest.raises(rill.IncompleteStreamError, match="cut short") as info:
        generate(origin)
    assert info.value.partial is not None and info.value.partial.content == PIECES[0]


def test_idle_deadline_while_the_body_stalls(origin: RawOrigin) -> None:
    origin.reply(head(CHUNKED), chunked(EVENTS[0]))  # then nothing
    timeouts = rill.Timeouts(connect=5, first_token=5, idle=0.2, total=5)
    with pytest.raises(rill.TimeoutError) as info:
        generate(origin, timeout=timeouts)
    assert info.value.phase == "idle"
    assert info.value.partial is not None and info.value.partial.content == PIECES[0]


def test_gzip_body(origin: RawOrigin, taken: list[bool]) -> None:
    packed = gzip.compress(b"".join(EVENTS))
    gz = {**CHUNKED, "content-encoding": "gzip"}
    origin.reply(head(gz), chunked(packed[:30]), chunked(packed[30:]), LAST, pause=0.005)
    origin.reply(head(gz), chunked(packed) + LAST)
    assert generate(origin).content == TEXT
    assert generate(origin).content == TEXT
    assert taken == [True, True]
    assert origin.connections == 1


def test_an_error_status_with_a_chunked_body(origin: RawOrigin) -> None:
    body = b'{"error": {"message": "no such model"}}'
    origin.reply(
        head({**CHUNKED, "content-type": "application/json"}, status=404), chunked(body) + LAST
    )
    origin.reply(head(CHUNKED), chunked(*EVENTS) + LAST)
    with pytest.raises(rill.NotFoundError, match="no such model"):
        generate(origin)
    assert generate(origin).content == TEXT
    assert origin.connections == 1


def test_no_body_after_a_204_whatever_its_header_says(origin: RawOrigin) -> None:
    origin.reply(head(CHUNKED, status=204))
    with pytest.raises(rill.ProtocolError, match="204"):
        generate(origin, timeout=rill.Timeouts(connect=5, first_token=5, idle=5, total=5))


def test_a_content_length_body_goes_through_httpx(origin: RawOrigin, taken: list[bool]) -> None:
    body = b"".join(EVENTS)
    origin.reply(head({"content-length": str(len(body))}), body)
    assert generate(origin).content == TEXT
    assert taken == [False]


def test_a_users_client_goes_through_httpx(origin: RawOrigin, taken: list[bool]) -> None:
    origin.reply(head(CHUNKED), chunked(*EVENTS) + LAST)
    with httpx.Client() as http:
        assert generate(origin, http_client=http).content == TEXT
    assert taken == []


def test_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[bool]) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with own_sync_pool(), RawOrigin(context=context) as server:
        for _ in range(2):
            server.reply(head(CHUNKED), *[chunked(e) for e in EVENTS], LAST, pause=0.002)
        assert generate(server).content == TEXT
        assert generate(server).content == TEXT
        assert server.connections == 1
    assert taken == [True, True]


def test_through_an_https_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[bool]
) -> None:
    """TLS to the origin inside a CONNECT tunnel: the body is still read from
    the (TLS) socket, and the tunnelled connection is pooled."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with TunnelProxy() as proxy, own_sync_pool(), RawOrigin(context=context) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        for _ in range(2):
            server.reply(head(CHUNKED), *[chunked(e) for e in EVENTS], LAST, pause=0.002)
        assert generate(server).content == TEXT
        assert generate(server).content == TEXT
        assert server.connections == 1
        assert len(proxy.targets) == 1
    assert taken == [True, True]
