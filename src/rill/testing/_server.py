"""The emulator: a real HTTP/1.1 server on loopback that serves scripts.

It is written on bare ``asyncio`` streams rather than a web framework because
faults need byte-level control: a connection closed after exactly *n* body
bytes, a stall in the middle of a chunk, bytes that are not SSE at all. It runs
its own event loop in a background thread, so synchronous tests, async tests
(whatever their loop) and separate processes all talk to it over a socket the
way they would talk to a provider.

Protocols are found in a registry of encoders (``_protocols``), strictly: a
path in the wrong place is a 404 that names the right base URL, and a
malformed request gets its protocol's own 400. HTTP, pacing and faults are
in ``_http``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any, Protocol

import orjson

from ._http import (
    MAX_HEAD_BYTES,
    BadRequest,
    Disconnect,
    error_body,
    error_json,
    read_request,
    record_request,
    send,
)
from ._intent import AutoReply, Intent
from ._protocols import ENCODERS, Encoder, every_protocol, intent_of, invalid, route, served_at
from ._script import RecordedRequest, Script

__all__ = ["ENCODERS", "Emulator", "Encoder", "Responder"]


class Responder(Protocol):
    """Chooses the script for one request, knowing what it asks for
    (``AutoReply`` is one; any function of this shape is another)."""

    def __call__(self, request: RecordedRequest, intent: Intent, /) -> Script: ...


_START_TIMEOUT = 10.0


class Emulator:
    """A provider emulator on ``host`` (loopback by default) and an ephemeral port.

    Use as ``with Emulator() as emu:`` or ``async with Emulator() as emu:``.
    Scripts passed to ``enqueue`` answer the next requests in order; when the
    queue is empty, ``default`` answers (by default ``AutoReply()``: a reply
    that fits each request). A ``Responder`` may stand wherever a script
    does: it is called with each request and what it asks for, and returns
    the script.

    A non-streamed response waits as long as the same script would take to
    stream (``ttft`` plus one interval per piece), as a model generates the
    whole answer before it is sent.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Script | Responder | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        # With a server-side SSL context the emulator speaks HTTPS (for tests
        # of CA bundles and proxies that tunnel with CONNECT).
        self.ssl_context = ssl_context
        self.default: Script | Responder = default if default is not None else AutoReply()
        self._port = port
        self._lock = threading.Lock()
        self._connections_changed = threading.Condition(self._lock)
        self._queue: deque[Script | Responder] = deque()
        self._requests: list[RecordedRequest] = []
        self._open = 0
        self._served = 0
        self._answered = 0
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and start serving in a background thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("this Emulator was already started")
        self._thread = threading.Thread(target=self._run, name="rill-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the emulator did not start in time")
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def close(self) -> None:
        """Stop: close the listening socket and every connection (cancelling
        any paced or stalled response), then join the thread. Idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or not thread.is_alive():
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(_START_TIMEOUT)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Emulator:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        where = self.base_url if self._thread is not None else "not started"
        return f"<Emulator {where}>"

    # -- what tests use ----------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (``https`` with an SSL context), with no path."""
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``URL/v1``."""
        return f"{self.url}/v1"

    def enqueue(self, *scripts: Script | Responder) -> None:
        """Answer the next requests with ``scripts``, first in, first out."""
        with self._lock:
            self._queue.extend(scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def open_connections(self) -> int:
        """TCP connections open right now."""
        return self._open

    @property
    def connections_served(self) -> int:
        """TCP connections accepted since the start."""
        return self._served

    def wait_answered(self, timeout: float = 5.0) -> bool:
        """Block until every request received so far has been answered to
        the end of its response (its last byte written); False if
        ``timeout`` ran out first. A pooled client keeps its connection
        open afterwards, so this, not ``wait_closed``, says a response is over."""
        with self._connections_changed:
            return self._connections_changed.wait_for(
                lambda: self._answered >= len(self._requests), timeout
            )

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """Block until no connection is open; False if ``timeout`` ran out first."""
        with self._connections_changed:
            return self._connections_changed.wait_for(lambda: self._open == 0, timeout)

    async def await_closed(self, timeout: float = 5.0) -> bool:
        """``wait_closed`` for async code, on any event loop (asyncio or
        trio): does not block the caller's loop."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.wait_closed, timeout)

    # -- the server thread -------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(), which re-raises it
            if self._ready.is_set():
                raise
            self._startup_error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, self.host, self._port, limit=MAX_HEAD_BYTES, ssl=self.ssl_context
        )
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            await asyncio.sleep(0)  # let connections accepted just now register
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            self._open += 1
            self._served += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (Disconnect, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels these tasks, and they must end normally:
            # Python 3.11's streams call task.exception() on a finished
            # handler, which raises for a cancelled task.
            pass
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass
            finally:
                self._tasks.discard(task)
                with self._connections_changed:
                    self._open -= 1
                    self._connections_changed.notify_all()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; False when the connection should end."""
        try:
            incoming = await read_request(reader)
        except BadRequest as exc:
            await send(writer, 400, "application/json", [error_json(str(exc))], keep_alive=False)
            return False
        if incoming is None:
            return False
        method, target, headers, body, keep_alive = incoming
        request = record_request(method, target, headers, body)
        with self._lock:
            self._requests.append(request)

        if method == "GET" and request.path.rstrip("/") in _MODEL_LISTS:
            await send(writer, 200, "application/json", [_MODELS], keep_alive=keep_alive)
            return keep_alive
        found = route(request.path, method)
        if found is None:
            known = "; ".join(every_protocol(self.url))
            error = error_json(f"Unknown path: {method} {request.path}. {known}.")
            await send(writer, 404, "application/json", [error], keep_alive=keep_alive)
            return keep_alive
        encoder = found.encoder
        if found.misplaced:
            message = (
                f"No {getattr(encoder, 'protocol', 'such')} endpoint at {request.path}: "
                f"{served_at(encoder, self.url)}."
            )
            error = encoder.error(404, message)
            await send(writer, 404, "application/json", [error], keep_alive=keep_alive)
            return keep_alive
        retrieving = method == "GET" and getattr(encoder, "retrieves", False)
        if method != "POST" and not retrieving:
            error = encoder.error(405, f"Method {method} not allowed on {request.path}")
            await send(writer, 405, "application/json", [error], keep_alive=keep_alive)
            return keep_alive
        if request.json is None and not retrieving:
            error = encoder.error(400, "The request body is not valid JSON.")
            await send(writer, 400, "application/json", [error], keep_alive=keep_alive)
            return keep_alive
        problem = None if retrieving else invalid(encoder, request)
        if problem is not None:
            error = encoder.error(400, problem)
            await send(writer, 400, "application/json", [error], keep_alive=keep_alive)
            return keep_alive

        script, seq = self._take_script(request, encoder)
        if script.status >= 400:
            frames = [error_body(script, encoder)]
            content_type, chunked = "application/json", False
        elif script.body is not None:
            size = script.body_chunk_size or len(script.body) or 1
            frames = [script.body[i : i + size] for i in range(0, len(script.body), size)]
            content_type, chunked = script.content_type, True
        elif encoder.wants_stream(request):
            frames = encoder.stream(script, request, seq=seq, created=int(time.time()))
            content_type, chunked = getattr(encoder, "content_type", "text/event-stream"), True
        else:
            frames = [encoder.complete(script, request, seq=seq, created=int(time.time()))]
            content_type, chunked = "application/json", False
            script = _generating(script, encoder, request)
        await send(
            writer,
            script.status,
            content_type,
            frames,
            keep_alive=keep_alive,
            chunked=chunked,
            script=script,
            request_id=f"req_rill{seq:06d}",
            reader=reader,
        )
        with self._connections_changed:
            self._answered += 1
            self._connections_changed.notify_all()
        return keep_alive

    def _take_script(self, request: RecordedRequest, encoder: Encoder) -> tuple[Script, int]:
        with self._lock:
            self._seq += 1
            chosen = self._queue.popleft() if self._queue else self.default
            seq = self._seq
        if isinstance(chosen, Script):
            return chosen, seq
        return chosen(request, intent_of(encoder, request)), seq


# OpenAI's model list (``GET /v1/models``), so that clients which ask a
# server what it serves (the openai SDK's ``models.list()``, ``rill chat
# --base-url``) get an answer. The emulator answers any model name; it lists one.
_MODEL_LISTS = frozenset({"/v1/models", "/models"})
EMULATED_MODEL_ID = "rill-emulator"
_MODELS = orjson.dumps(
    {
        "object": "list",
        "data": [{"id": EMULATED_MODEL_ID, "object": "model", "created": 0, "owned_by": "rill"}],
    }
)


def _generating(script: Script, encoder: Encoder, request: RecordedRequest) -> Script:
    """``script`` for a non-streamed body: the head waits as long as the
    stream would have taken (first token, then one interval per piece)."""
    if script.tokens_per_second is None:
        return script
    pieces = len(encoder.stream(script, request, seq=0, created=0))
    ttft = script.ttft + max(pieces - 1, 0) / script.tokens_per_second
    return dataclasses.replace(script, ttft=ttft, tokens_per_second=None)


# -- HTTP/1.1 (RFC 9112), only as much as clients of a provider API use -------
