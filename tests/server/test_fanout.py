"""Many readers of one stream on one instance (``rill.server._fanout``): the
log is read once per instance, a client that stops reading holds up no one,
and every reader still gets every event exactly once, in order."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Sequence

import httpx
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from rill.server._app import RillServer
from rill.server._config import ServerConfig
from rill.server._log import Event, StreamStore, new_token
from rill.server._memory import MemoryStore
from rill.server._producer import Producer

from .redis_proc import RedisProcess
from .serving import ServerThread, events_of, iter_sse, parse_block


class CountingStore(MemoryStore):
    """The memory store, counting the reads that found events."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, stream_id: str, after: int, timeout: float) -> list[Event]:
        events = await super().read(stream_id, after, timeout)
        self.reads += bool(events)
        return events


class Harness:
    """A server whose streams are written by a test producer: ``create``
    opens a stream that waits for ``go`` and then appends ``events`` chunk
    events of ``size`` bytes each, yielding to the loop every ``every``."""

    def __init__(self, store: StreamStore | str) -> None:
        self.server = RillServer(ServerConfig(auth=False, lease_ttl=10.0), store)
        self.gates: dict[str, asyncio.Event] = {}
        routes = [
            Route("/test/create", self._create, methods=["POST"]),
            Route("/test/go/{stream_id}", self._go, methods=["POST"]),
            Mount("/", app=self.server),
        ]
        self.app = Starlette(routes=routes, lifespan=self.server.lifespan)

    async def _create(self, request: Request) -> JSONResponse:
        n = int(request.query_params["events"])
        size = int(request.query_params.get("size", "10"))
        every = int(request.query_params.get("every", "1"))
        state = self.server.state
        stream_id, token = secrets.token_urlsafe(18), new_token()
        await state.store.create(stream_id, "local", token, 10.0)
        gate = self.gates[stream_id] = asyncio.Event()

        async def source() -> AsyncIterator[tuple[str, str]]:
            await gate.wait()
            for i in range(n):
                if i % every == 0:
                    await asyncio.sleep(0.001)
                yield "chunk", f'{{"i":{i},"pad":"{"x" * size}"}}'
            yield "done", "{}"

        producer = Producer(state.store, stream_id, token, lease_ttl=10.0, max_events=10**9)
        state.spawn(producer.run(source()))
        return JSONResponse({"id": stream_id})

    async def _go(self, request: Request) -> JSONResponse:
        self.gates[request.path_params["stream_id"]].set()
        return JSONResponse({})


@pytest.fixture
def harness() -> Iterator[tuple[Harness, str]]:
    harness = Harness(CountingStore())
    with ServerThread(harness.app) as thread:
        yield harness, thread.url


def _indices(blocks: Sequence[object]) -> list[int]:
    events = events_of(blocks)  # type: ignore[arg-type]
    assert events[-1].event == "done"
    return [e.json["i"] for e in events if e.event == "chunk"]


def test_readers_of_one_stream_share_one_read_of_the_log(harness: tuple[Harness, str]) -> None:
    h, url = harness
    readers, n = 20, 200
    stream_id = httpx.post(f"{url}/test/create?events={n}&every=10").json()["id"]
    results: list[list[int]] = []

    def read() -> None:
        with httpx.stream("GET", f"{url}/v1/streams/{stream_id}", timeout=20) as r:
            results.append(_indices(list(iter_sse(r))))

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for t in threads:
        t.start()
    store = h.server.store
    assert isinstance(store, CountingStore)
    httpx.post(f"{url}/test/go/{stream_id}")
    for t in threads:
        t.join(30)
    assert results == [list(range(n))] * readers
    # One instance, one read of each batch for all its readers (a reader per
    # read would make it readers * batches).
    assert 0 < store.reads <= n + 1


def _raw_reader(url: str, stream_id: str) -> socket.socket:
    """A client that sends its request and then reads nothing, with a small
    receive buffer so the server's writes to it back up soon."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /v1/streams/{stream_id} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def _read_raw_to_end(sock: socket.socket) -> list[int]:
    sock.settimeout(20)
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        piece = sock.recv(1 << 16)
        assert piece, "the server closed the connection early"
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    payload = b""
    while body:  # undo the chunked framing
        size, _, rest = body.partition(b"\r\n")
        length = int(size, 16)
        payload += rest[:length]
        body = rest[length + 2 :]
    blocks = [parse_block(b) for b in payload.split(b"\n\n") if b]
    return _indices(blocks)


def test_a_client_that_stops_reading_holds_up_no_one(harness: tuple[Harness, str]) -> None:
    _, url = harness
    # About 8 MB: far more than the socket buffers and the server's write
    # buffer hold for a client that reads nothing.
    n = 4000
    stream_id = httpx.post(f"{url}/test/create?events={n}&size=2000&every=50").json()["id"]
    stalled = _raw_reader(url, stream_id)
    try:
        with httpx.stream("GET", f"{url}/v1/streams/{stream_id}", timeout=20) as r:
            httpx.post(f"{url}/test/go/{stream_id}")
            # Without giving up on the stalled client's held-up write, this
            # read would stop once that client's buffers are full, and time out.
            fast = _indices(list(iter_sse(r)))
        assert fast == list(range(n))
        # The stalled client, reading at last, gets every event once, in order.
        assert _read_raw_to_end(stalled) == list(range(n))
    finally:
        stalled.close()


def _subscriptions(client: redis.Redis) -> list[int]:
    """The channel counts of the connections that have subscriptions."""
    listing: list[dict[str, str]] = client.client_list()
    return [int(c["sub"]) for c in listing if int(c.get("sub", "0"))]


def test_waiting_on_many_redis_streams_takes_one_connection(redis_server: RedisProcess) -> None:
    streams = 30
    client = redis.Redis.from_url(redis_server.url)
    with ServerThread(Harness(redis_server.url).app) as thread:
        url = thread.url
        ids = [httpx.post(f"{url}/test/create?events=2").json()["id"] for _ in range(streams)]
        readers = [_raw_reader(url, stream_id) for stream_id in ids]
        try:
            for _ in range(100):
                if _subscriptions(client) == [streams]:
                    break
                threading.Event().wait(0.05)
            # One connection subscribed to every stream's channel, and no
            # connection blocked in a read per stream.
            assert _subscriptions(client) == [streams]
            assert client.info("clients")["blocked_clients"] == 0
            for stream_id in ids:
                httpx.post(f"{url}/test/go/{stream_id}")
            for sock in readers:
                assert _read_raw_to_end(sock) == [0, 1]
        finally:
            for sock in readers:
                sock.close()
    client.close()


def test_readers_that_leave_leave_nothing_behind(harness: tuple[Harness, str]) -> None:
    h, url = harness
    stream_id = httpx.post(f"{url}/test/create?events=100000&every=1").json()["id"]
    readers = [_raw_reader(url, stream_id) for _ in range(5)]
    httpx.post(f"{url}/test/go/{stream_id}")
    fanout = h.server.state.fanout
    for _ in range(100):
        if stream_id in fanout._broadcasts:
            break
        threading.Event().wait(0.02)
    broadcast = fanout._broadcasts[stream_id]
    for sock in readers:
        sock.close()
    for _ in range(200):  # the server notices each disconnect
        if not broadcast.live and not broadcast.behind and broadcast.task.done():
            break
        threading.Event().wait(0.02)
    assert not broadcast.live and not broadcast.behind
    assert broadcast.task.done()  # the stream's reading task stopped with its last reader
    assert stream_id not in fanout._broadcasts
