"""The server under load: ``RillServer`` plus three routes only the benchmark
uses, which start synthetic producers in the server process itself.

A synthetic producer writes ``n`` chunk events at ``rate`` per second through
the server's own ``Producer`` and store; each event's data carries the wall
clock (ns) just before its append, so a reader's receive time minus that is
the latency the server adds. ``/bench/idle`` opens streams whose producers
hold their lease and write nothing.

    python -m benchmarks._server_app --port P --store memory|redis://...
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import AsyncGenerator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from rill.server import RillServer, ServerConfig
from rill.server._log import new_token
from rill.server._producer import Producer


def build(store: str) -> Starlette:
    server = RillServer(ServerConfig(auth=False, lease_ttl=10.0), store)
    state = server.state
    gates: dict[str, asyncio.Event] = {}

    async def source(gate: asyncio.Event, n: int, rate: float) -> AsyncGenerator[tuple[str, str]]:
        await gate.wait()
        interval = 1.0 / rate if rate else 0.0
        start = time.monotonic()
        for i in range(n):
            if interval:
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield "chunk", f'{{"text":"x","t":{time.time_ns()}}}'
        yield "done", "{}"

    async def open_stream(n: int, rate: float) -> str:
        stream_id, token = secrets.token_urlsafe(18), new_token()
        await state.store.create(stream_id, "local", token, 10.0)
        gate = gates[stream_id] = asyncio.Event()
        producer = Producer(state.store, stream_id, token, lease_ttl=10.0, max_events=10**9)
        state.spawn(producer.run(source(gate, n, rate)))
        return stream_id

    async def create(request: Request) -> JSONResponse:
        n = int(request.query_params.get("events", "200"))
        rate = float(request.query_params.get("rate", "50"))
        return JSONResponse({"id": await open_stream(n, rate)})

    async def go(request: Request) -> JSONResponse:
        gates[request.path_params["stream_id"]].set()
        return JSONResponse({"ok": True})

    async def idle(request: Request) -> JSONResponse:
        count = int(request.query_params.get("count", "1000"))
        ids = [await open_stream(0, 0) for _ in range(count)]
        return JSONResponse({"ids": ids})

    routes = [
        Route("/bench/create", create, methods=["POST"]),
        Route("/bench/go/{stream_id}", go, methods=["POST"]),
        Route("/bench/idle", idle, methods=["POST"]),
        Mount("/", app=server),
    ]
    return Starlette(routes=routes, lifespan=server.lifespan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", default="memory")
    args = parser.parse_args()
    uvicorn.run(
        build(args.store),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="on",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
