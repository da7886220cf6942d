"""Run the server for real: uvicorn on a free loopback port, in a thread of
the test process (``ServerThread``) or as ``rill serve`` in a child process
(``ServerProcess``, which a test can kill). Plus a small SSE reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import uvicorn

from .redis_proc import free_port


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class ServerProcess:
    """``python -m rill serve`` in a child process; ``kill()`` is SIGKILL."""

    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "rill", "serve", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"rill serve exited: {err}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("rill serve did not start")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@dataclass
class SSE:
    """One server-sent event block as it came over the wire."""

    raw: bytes
    id: str | None
    event: str | None
    data: str | None
    retry: int | None
    comment: bool

    @property
    def json(self) -> Any:
        assert self.data is not None
        return orjson.loads(self.data)


def parse_block(block: bytes) -> SSE:
    fields: dict[str, str] = {}
    comment = True
    for line in block.decode().split("\n"):
        if line.startswith(":"):
            continue
        comment = False
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    retry = fields.get("retry")
    return SSE(
        block + b"\n\n",
        fields.get("id"),
        fields.get("event"),
        fields.get("data"),
        int(retry) if retry is not None else None,
        comment,
    )


def iter_sse(response: httpx.Response) -> Iterator[SSE]:
    buffer = b""
    for piece in response.iter_raw():
        buffer += piece
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            yield parse_block(block)


def events_of(blocks: list[SSE]) -> list[SSE]:
    """The log's events (with an event name), without preambles and comments."""
    return [b for b in blocks if b.event is not None and b.id is not None]


def headers(key: str | None = "k1", **extra: str) -> dict[str, str]:
    out = dict(extra)
    if key is not None:
        out["authorization"] = f"Bearer {key}"
    return out
