"""The emulator's head, trickle and flood faults, bodiless statuses, and waits
that end when the client hangs up, checked with plain httpx and raw sockets."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rill.testing import Emulator, Fault, Script

STREAM = {"model": "gpt-test", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
BODY = b"data: " + b"x" * 200 + b"\n\ndata: [DONE]\n\n"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def url(emu: Emulator) -> str:
    return f"{emu.base_url}/chat/completions"


def read_raw(emu: Emulator, **kw: Any) -> tuple[bytes, BaseException | None]:
    """The body bytes as received, and the transport error that ended them."""
    received = bytearray()
    with (
        httpx.Client(timeout=5, **kw) as http,
        http.stream("POST", url(emu), json=STREAM) as response,
    ):
        try:
            for chunk in response.iter_raw():
                received.extend(chunk)
        except httpx.TransportError as exc:
            return bytes(received), exc
    return bytes(received), None


def test_constructors_reject_nonsense() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Fault.stall_head(-1)
    with pytest.raises(ValueError, match="> 0"):
        Fault.trickle_head(0.1, size=0)
    with pytest.raises(ValueError, match="> 0"):
        Fault.trickle_after(0, count=0)
    with pytest.raises(ValueError, match="data"):
        Fault.trickle_after(0, data=b"")
    with pytest.raises(ValueError, match="> 0"):
        Fault.flood_after(0, size=0)


def test_stall_head_delays_the_status_line(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(BODY, faults=(Fault.stall_head(0.3),)))
    started = time.perf_counter()
    with httpx.Client(timeout=5) as http:
        response = http.post(url(emu), json=STREAM)
    assert time.perf_counter() - started >= 0.25
    assert response.content == BODY


def test_trickle_head_sends_the_head_a_few_bytes_at_a_time(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(BODY, faults=(Fault.trickle_head(0.01, size=4),)))
    with socket.create_connection((emu.host, emu.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
            b"\r\ncontent-length: 61\r\nconnection: close\r\n\r\n"
            b'{"model": "m", "messages": [{"role": "user", "content": ""}]}'
        )
        reads: list[bytes] = []
        while data := sock.recv(65536):
            reads.append(data)
    response = b"".join(reads)
    head = response.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in head
    assert len(reads) >= len(head) // 4  # arrived in pieces, not at once
    assert all(len(r) <= 4 for r in reads[:-1])  # the body follows the head at once
    assert b"data: [DONE]" in response


def test_trickle_head_then_the_body_is_intact(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(BODY, faults=(Fault.trickle_head(0.002),)))
    assert read_raw(emu) == (BODY, None)


def test_trickle_after_inserts_data_then_carries_on(emu: Emulator) -> None:
    fault = Fault.trickle_after(100, data=b": ping\n\n", interval=0.02, count=5)
    emu.enqueue(Script.of_body(BODY, faults=(fault,)))
    started = time.perf_counter()
    body, error = read_raw(emu)
    assert time.perf_counter() - started >= 0.09
    assert error is None
    assert body == BODY[:100] + b": ping\n\n" * 5 + BODY[100:]


def test_trickle_after_then_close(emu: Emulator) -> None:
    fault = Fault.trickle_after(10, data=b"x", interval=0.01, count=3, then="close")
    emu.enqueue(Script.of_body(BODY, faults=(fault,)))
    body, error = read_raw(emu)
    assert body == BODY[:10] + b"xxx"
    assert isinstance(error, httpx.RemoteProtocolError)


def test_flood_after_sends_a_line_that_never_ends_then_closes(emu: Emulator) -> None:
    size = 200_000
    emu.enqueue(Script.of_body(BODY, faults=(Fault.flood_after(20, size=size),)))
    body, error = read_raw(emu)
    assert body == BODY[:20] + b"data: " + b"a" * size
    assert isinstance(error, httpx.RemoteProtocolError)


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_send_no_body_and_keep_the_connection(emu: Emulator, status: int) -> None:
    emu.enqueue(Script.of_status(status))
    with httpx.Client(timeout=5) as http:
        response = http.post(url(emu), json=STREAM)
        assert response.status_code == status and response.content == b""
        assert "transfer-encoding" not in response.headers
        assert "content-length" not in response.headers
        assert http.post(url(emu), json=STREAM).status_code == 200
    assert emu.connections_served == 1


def test_redirect_with_location_is_served_as_scripted(emu: Emulator) -> None:
    emu.enqueue(
        Script.of_body(
            b"<html>moved</html>",
            status=302,
            content_type="text/html",
            headers={"Location": "https://elsewhere.example/v1/chat/completions"},
        )
    )
    with httpx.Client(timeout=5, follow_redirects=False) as http:
        response = http.post(url(emu), json=STREAM)
    assert response.status_code == 302
    assert response.headers["location"] == "https://elsewhere.example/v1/chat/completions"
    assert response.content == b"<html>moved</html>"


def test_gzip_body_is_served_as_given(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(gzip.compress(BODY), headers={"content-encoding": "gzip"}))
    with httpx.Client(timeout=5) as http:
        assert http.post(url(emu), json=STREAM).content == BODY


@pytest.mark.parametrize(
    "script",
    [
        Script.of_body(BODY, faults=(Fault.stall_after(10, 30.0),)),
        Script.of_body(BODY, faults=(Fault.stall_head(30.0),)),
        Script.of_body(BODY, faults=(Fault.trickle_head(1.0),)),
        Script.of_body(BODY, faults=(Fault.trickle_after(10, interval=1.0, count=30),)),
        Script.of_body(BODY, ttft=30.0),
        Script.of_body(BODY, body_chunk_size=10, tokens_per_second=0.1),
    ],
    ids=["stall_after", "stall_head", "trickle_head", "trickle_after", "ttft", "paced"],
)
def test_a_wait_ends_when_the_client_hangs_up(emu: Emulator, script: Script) -> None:
    emu.enqueue(script)
    with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=httpx.Timeout(5, read=0.2)) as http:
        http.post(url(emu), json=STREAM)
    started = time.perf_counter()
    assert emu.wait_closed(timeout=2)
    assert time.perf_counter() - started < 1.0
