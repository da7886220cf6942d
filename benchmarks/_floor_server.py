"""The floor for the fan-out benchmark: the least a Python server on this
machine can do to send one stream's events to many SSE readers. No framework,
no store, no encoding per event beyond one f-string: it accepts connections,
answers every request with a chunked event stream, and on ``POST /go``
writes ``--events`` events at ``--rate`` per second, each stamped like the
benchmark's producer, to every reader's transport in turn.

    python -m benchmarks._floor_server --port P --events 200 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import time

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Floor:
    def __init__(self, events: int, rate: float) -> None:
        self.events = events
        self.rate = rate
        self.readers: list[asyncio.Transport] = []

    async def produce(self) -> None:
        start = time.monotonic()
        for i in range(self.events):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            data = f'id: x:{i + 1}\nevent: chunk\ndata: {{"text":"x","t":{time.time_ns()}}}\n\n'
            piece = _chunk(data.encode())
            for transport in self.readers:
                transport.write(piece)
        last = _chunk(b"event: done\ndata: {}\n\n") + b"0\r\n\r\n"
        for transport in self.readers:
            transport.write(last)


class Connection(asyncio.Protocol):
    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        if self.buffer.startswith((b"POST /go", b"GET /healthz")):
            self.transport.write(OK)
            if self.buffer.startswith(b"POST /go"):
                asyncio.get_running_loop().create_task(self.floor.produce())
        else:
            self.transport.write(HEAD + _chunk(b"retry: 2000\nid: x:0\n\n"))
            self.floor.readers.append(self.transport)
        self.buffer = b""


async def serve(port: int, events: int, rate: float) -> None:
    floor = Floor(events, rate)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(floor), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, args.events, args.rate))
    else:
        uvloop.run(serve(args.port, args.events, args.rate))


if __name__ == "__main__":
    main()
