"""The emulator: a real HTTP/1.1 server on loopback that serves scripts.

It is written on bare ``asyncio`` streams rather than a web framework because
faults need byte-level control: a connection closed after exactly *n* body
bytes, a stall in the middle of a chunk, bytes that are not SSE at all. It runs
its own event loop in a background thread, so synchronous tests, async tests
(whatever their loop) and separate processes all talk to it over a socket the
way they would talk to a provider.

Protocols are found by path suffix in a registry of encoders; the server knows
HTTP, pacing and faults, and nothing about any provider's JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from types import MappingProxyType, TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import orjson

from ._script import Fault, RecordedRequest, Script

__all__ = ["ENCODERS", "Emulator", "Encoder"]


class Encoder(Protocol):
    """Turns a script into one protocol's bytes. Sans-IO: no sockets, no clock.

    An encoder may set ``content_type`` for its streamed responses (default
    ``text/event-stream``; NDJSON protocols say ``application/x-ndjson``).
    """

    def wants_stream(self, request: RecordedRequest) -> bool:
        """Whether ``request`` asked for a streamed response."""
        ...

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The frames of a streamed response (each one event, e.g. one SSE event)."""
        ...

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The body of a non-streamed response."""
        ...

    def error(self, status: int, message: str) -> bytes:
        """A JSON error body for ``status`` in this protocol's shape."""
        ...


# Path suffix -> (module, class) of the encoder for that protocol. Modules load
# on first use; the longest matching suffix wins.
_ENCODER_HOMES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "/chat/completions": ("._openai_chat", "OpenAIChatEncoder"),
        "/v1/messages": ("._anthropic", "AnthropicEncoder"),
        ":streamGenerateContent": ("._gemini", "GeminiEncoder"),
        ":generateContent": ("._gemini", "GeminiEncoder"),
        "/api/chat": ("._ollama", "OllamaChatEncoder"),
        "/api/generate": ("._ollama", "OllamaGenerateEncoder"),
        "/responses": ("._openai_responses", "ResponsesEncoder"),
        "/v2/chat": ("._cohere", "CohereEncoder"),
    }
)


@functools.cache
def _load_encoder(module: str, name: str) -> Encoder:
    encoder: Encoder = getattr(importlib.import_module(module, __package__), name)()
    return encoder


def encoder_for(path: str) -> Encoder | None:
    """The encoder whose suffix ends ``path`` (longest first), or None."""
    for suffix, (module, name) in sorted(_ENCODER_HOMES.items(), key=lambda kv: -len(kv[0])):
        if path.endswith(suffix):
            return _load_encoder(module, name)
    return None


def _retrieving_encoder(path: str) -> Encoder | None:
    """For ``GET <collection>/<id>``, the collection's encoder if it sets
    ``retrieves`` (it then reads ``request.method`` and ``request.query``)."""
    collection = path.rpartition("/")[0]
    encoder = encoder_for(collection) if collection else None
    return encoder if getattr(encoder, "retrieves", False) else None


ENCODERS = _ENCODER_HOMES
"""The protocol registry (path suffix -> encoder module and class)."""

DEFAULT_SCRIPT = Script.of_text("Hello! This is the rill emulator.")

_BATCH_BYTES = 64 * 1024  # unpaced output is written (and drained) in batches of this size
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 64 * 1024 * 1024
_START_TIMEOUT = 10.0
_EVENT_FAULTS = frozenset({"error_event_after", "garbage_after"})
_DEFAULT_STREAM_ERROR = {
    "message": "The server had an error while processing your request.",
    "type": "server_error",
    "code": "internal_error",
}


class _Disconnect(Exception):
    """Close the connection now, without finishing the response."""


class _BadRequest(Exception):
    """The peer sent something that is not HTTP/1.1 we can read."""


class Emulator:
    """A provider emulator on ``host`` (loopback by default) and an ephemeral port.

    Use as ``with Emulator() as emu:`` or ``async with Emulator() as emu:``.
    Scripts passed to ``enqueue`` answer the next requests in order; when the
    queue is empty, ``default`` answers.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, default: Script | None = None
    ) -> None:
        self.host = host
        self.default: Script = default if default is not None else DEFAULT_SCRIPT
        self._port = port
        self._lock = threading.Lock()
        self._connections_changed = threading.Condition(self._lock)
        self._queue: deque[Script] = deque()
        self._requests: list[RecordedRequest] = []
        self._open = 0
        self._served = 0
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
        """``http://HOST:PORT``, with no path."""
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://HOST:PORT/v1``."""
        return f"{self.url}/v1"

    def enqueue(self, *scripts: Script) -> None:
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

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """Block until no connection is open; False if ``timeout`` ran out first."""
        with self._connections_changed:
            return self._connections_changed.wait_for(lambda: self._open == 0, timeout)

    async def await_closed(self, timeout: float = 5.0) -> bool:
        """``wait_closed`` for async code: does not block the caller's loop."""
        return await asyncio.to_thread(self.wait_closed, timeout)

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
            self._connection, self.host, self._port, limit=_MAX_HEAD_BYTES
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
        except (_Disconnect, ConnectionError):
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
            incoming = await _read_request(reader)
        except _BadRequest as exc:
            await _send(writer, 400, "application/json", [_error_json(str(exc))], keep_alive=False)
            return False
        if incoming is None:
            return False
        method, target, headers, body, keep_alive = incoming
        request = _record(method, target, headers, body)
        with self._lock:
            self._requests.append(request)

        encoder = self._route(request.path)
        retrieving = encoder is None and method == "GET"
        if retrieving:  # GET <collection>/<id>: e.g. resuming a Responses stream
            encoder = _retrieving_encoder(request.path)
        if encoder is None:
            error = _error_json(f"Unknown path: {request.path}")
            await _send(writer, 404, "application/json", [error], keep_alive=keep_alive)
            return keep_alive
        if method != "POST" and not retrieving:
            error = encoder.error(405, f"Method {method} not allowed on {request.path}")
            await _send(writer, 405, "application/json", [error], keep_alive=keep_alive)
            return keep_alive
        if request.json is None and not retrieving:
            error = encoder.error(400, "The request body is not valid JSON.")
            await _send(writer, 400, "application/json", [error], keep_alive=keep_alive)
            return keep_alive

        script, seq = self._take_script()
        if script.status >= 400:
            frames = [_error_body(script, encoder)]
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
        await _send(
            writer,
            script.status,
            content_type,
            frames,
            keep_alive=keep_alive,
            chunked=chunked,
            script=script,
            request_id=f"req_rill{seq:06d}",
        )
        return keep_alive

    def _route(self, path: str) -> Encoder | None:
        return encoder_for(path)

    def _take_script(self) -> tuple[Script, int]:
        with self._lock:
            self._seq += 1
            script = self._queue.popleft() if self._queue else self.default
            return script, self._seq


# -- HTTP/1.1 (RFC 9112), only as much as clients of a provider API use -------


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes, bool] | None:
    """One request: method, target, headers, body, keep-alive. None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest("The connection ended inside the request head.") from None
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequest("The request head is too large.") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest("Malformed request line.")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadRequest("Malformed header line.")
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value

    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequest("Invalid Content-Length.") from None
        if not 0 <= length <= _MAX_BODY_BYTES:
            raise _BadRequest("Content-Length out of range.")
        body = await reader.readexactly(length)

    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        keep_alive = "keep-alive" in connection
    else:
        keep_alive = "close" not in connection
    return method, target, headers, body, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A ``Transfer-Encoding: chunked`` request body (RFC 9112 §7.1)."""
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY_BYTES:
                raise _BadRequest("Request body too large.")
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise _BadRequest("Malformed chunk.")
    except (ValueError, asyncio.LimitOverrunError):
        raise _BadRequest("Malformed chunked body.") from None


def _record(method: str, target: str, headers: dict[str, str], body: bytes) -> RecordedRequest:
    url = urlsplit(target)
    parsed: Any = None
    if body:
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(body)
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    return RecordedRequest(method, url.path, query, headers, body, parsed)


def _error_json(message: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})


def _error_body(script: Script, encoder: Encoder) -> bytes:
    if isinstance(script.error_body, bytes):
        return script.error_body
    if script.error_body is not None:
        return orjson.dumps(script.error_body)
    return encoder.error(script.status, _reason(script.status))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    frames: Sequence[bytes],
    *,
    keep_alive: bool,
    chunked: bool = False,
    script: Script | None = None,
    request_id: str | None = None,
) -> None:
    """Write one response: head, then the frames with the script's pacing and faults."""
    headers = {"content-type": content_type}
    if chunked:
        headers["transfer-encoding"] = "chunked"
        headers["cache-control"] = "no-cache"
    else:
        headers["content-length"] = str(sum(len(frame) for frame in frames))
    if request_id is not None:
        headers["x-request-id"] = request_id
    if not keep_alive:
        headers["connection"] = "close"
    if script is not None:
        headers.update((name.lower(), value) for name, value in script.headers.items())
    head = f"HTTP/1.1 {status} {_reason(status)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(head.encode("latin-1") + b"\r\n")
    if script is None:
        writer.write(b"".join(frames))
        await writer.drain()
        return

    out = _Body(writer, chunked, [f for f in script.faults if f.kind not in _EVENT_FAULTS])
    if script.ttft > 0:
        await writer.drain()
        await asyncio.sleep(script.ttft)
    # Events exist only in streamed bodies; a Content-Length body keeps its length.
    event_faults = sorted(
        (f for f in script.faults if chunked and f.kind in _EVENT_FAULTS),
        key=lambda f: f.after_events,
    )
    interval = 1.0 / script.tokens_per_second if script.tokens_per_second else None
    flush_each = interval is not None or script.body_chunk_size is not None
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, frame in enumerate(frames):
        while event_faults and event_faults[0].after_events <= index:
            if not await _inject(out, event_faults.pop(0)):
                await out.finish()
                return
        if interval is not None and index:
            await out.flush()
            await asyncio.sleep(max(0.0, start + index * interval - loop.time()))
        await out.send(frame)
        if flush_each:
            await out.flush()
    for fault in event_faults:
        if not await _inject(out, fault):
            break
    await out.finish()


async def _inject(out: _Body, fault: Fault) -> bool:
    """Send an event-positioned fault; False when the stream must end after it."""
    if fault.kind == "garbage_after":
        await out.send(fault.data)
        if fault.then == "close":
            await out.flush()
            raise _Disconnect
        return True
    payload = orjson.dumps({"error": dict(fault.error or _DEFAULT_STREAM_ERROR)})
    if fault.style == "event":
        await out.send(b"event: error\ndata: " + payload + b"\n\n")
    else:
        await out.send(b"data: " + payload + b"\n\ndata: [DONE]\n\n")
    return False


class _Body:
    """Writes a response body, batched, applying byte-positioned faults.

    Offsets count body bytes (before chunked framing). Unflushed bytes are
    kept until ``_BATCH_BYTES`` accumulate, so an unpaced stream of tiny
    events costs a few large writes rather than one syscall per event.
    """

    def __init__(self, writer: asyncio.StreamWriter, chunked: bool, faults: list[Fault]) -> None:
        self._writer = writer
        self._chunked = chunked
        self._faults = deque(sorted(faults, key=lambda f: f.after_bytes))
        self._buffer = bytearray()
        self._offset = 0

    async def send(self, data: bytes) -> None:
        while self._faults and self._offset + len(data) >= self._faults[0].after_bytes:
            cut = self._faults[0].after_bytes - self._offset
            self._buffer += data[:cut]
            self._offset += cut
            data = data[cut:]
            await self._fire(self._faults.popleft())
        self._buffer += data
        self._offset += len(data)
        if len(self._buffer) >= _BATCH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._buffer:
            self._writer.write(self._framed(bytes(self._buffer)))
            self._buffer.clear()
        await self._writer.drain()

    async def finish(self) -> None:
        """Fire faults placed past the end, then end the message."""
        while self._faults:
            await self._fire(self._faults.popleft())
        data = self._framed(bytes(self._buffer)) if self._buffer else b""
        self._buffer.clear()
        self._writer.write(data + b"0\r\n\r\n" if self._chunked else data)
        await self._writer.drain()

    async def _fire(self, fault: Fault) -> None:
        await self.flush()
        if fault.kind == "close_after":
            raise _Disconnect
        await asyncio.sleep(fault.seconds)

    def _framed(self, data: bytes) -> bytes:
        if not self._chunked:
            return data
        return b"%x\r\n%b\r\n" % (len(data), data)
