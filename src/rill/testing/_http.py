"""HTTP/1.1 for the emulator, on bare asyncio streams: reading requests,
writing responses with pacing, and the faults that need byte-level control
(a connection closed after exactly *n* body bytes, a stall inside a chunk,
a head sent a byte at a time, bytes that are not the protocol at all).

Every wait (pacing, stalls, trickles) watches the connection and ends the
response as soon as the client hangs up, so a test can tell from the server's
side whether the client let its connection go.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ._protocols import Encoder
from ._script import Fault, RecordedRequest, Script

__all__ = [
    "MAX_HEAD_BYTES",
    "BadRequest",
    "Disconnect",
    "error_body",
    "error_json",
    "read_request",
    "record_request",
    "send",
]

_BATCH_BYTES = 64 * 1024  # unpaced output is written (and drained) in batches of this size
_PEER_POLL = 0.02  # seconds between checks for a client that hung up during a wait
MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 64 * 1024 * 1024
_EVENT_FAULTS = frozenset({"error_event_after", "garbage_after"})
_HEAD_FAULTS = frozenset({"stall_head", "trickle_head"})
# RFC 9110 §15.3.5, §15.4.5: these responses never have a body.
_BODILESS = frozenset({204, 304})
_DEFAULT_STREAM_ERROR = {
    "message": "The server had an error while processing your request.",
    "type": "server_error",
    "code": "internal_error",
}


class Disconnect(Exception):
    """Close the connection now, without finishing the response."""


class BadRequest(Exception):
    """The peer sent something that is not HTTP/1.1 we can read."""


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes, bool] | None:
    """One request: method, target, headers, body, keep-alive. None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("The connection ended inside the request head.") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("The request head is too large.") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("Malformed request line.")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest("Malformed header line.")
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value

    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise BadRequest("Invalid Content-Length.") from None
        if not 0 <= length <= _MAX_BODY_BYTES:
            raise BadRequest("Content-Length out of range.")
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
                raise BadRequest("Request body too large.")
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise BadRequest("Malformed chunk.")
    except (ValueError, asyncio.LimitOverrunError):
        raise BadRequest("Malformed chunked body.") from None


def record_request(
    method: str, target: str, headers: dict[str, str], body: bytes
) -> RecordedRequest:
    url = urlsplit(target)
    parsed: Any = None
    if body:
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(body)
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    return RecordedRequest(method, url.path, query, headers, body, parsed, time.monotonic())


def error_json(message: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})


def error_body(script: Script, encoder: Encoder) -> bytes:
    if isinstance(script.error_body, bytes):
        return script.error_body
    if script.error_body is not None:
        return orjson.dumps(script.error_body)
    return encoder.error(script.status, reason(script.status))


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def send(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    frames: Sequence[bytes],
    *,
    keep_alive: bool,
    chunked: bool = False,
    script: Script | None = None,
    request_id: str | None = None,
    reader: asyncio.StreamReader | None = None,
) -> None:
    """Write one response: head, then the frames with the script's pacing and
    faults. With the connection's ``reader``, waits end (``Disconnect``) as
    soon as the client hangs up."""
    bodiless = status in _BODILESS or status < 200
    headers = {} if bodiless else {"content-type": content_type}
    if bodiless:
        frames = ()
    elif chunked:
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
    head = f"HTTP/1.1 {status} {reason(status)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if script is None:
        writer.write(head.encode("latin-1") + b"\r\n" + b"".join(frames))
        await writer.drain()
        return

    peer = _Peer(reader, writer)
    await _send_head(peer, (head + "\r\n").encode("latin-1"), script.faults)
    if bodiless:
        await writer.drain()
        return
    byte_faults = [f for f in script.faults if f.kind not in _EVENT_FAULTS | _HEAD_FAULTS]
    out = _Body(peer, chunked, byte_faults)
    if script.ttft > 0:
        await writer.drain()
        await peer.pause(script.ttft)
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
            await peer.pause(start + index * interval - loop.time())
        await out.send(frame)
        if flush_each:
            await out.flush()
    for fault in event_faults:
        if not await _inject(out, fault):
            break
    await out.finish()


async def _send_head(peer: _Peer, head: bytes, faults: Sequence[Fault]) -> None:
    """Write the status line and headers, stalled or trickled as ``faults`` say."""
    for fault in faults:
        if fault.kind == "stall_head":
            await peer.pause(fault.seconds)
    trickle = next((f for f in faults if f.kind == "trickle_head"), None)
    if trickle is None:
        peer.writer.write(head)  # sent with the first body bytes
        return
    for i in range(0, len(head), trickle.size):
        if i:
            await peer.pause(trickle.seconds)
        peer.writer.write(head[i : i + trickle.size])
        await peer.writer.drain()


class _Peer:
    """The client end of a connection, for waits that stop when it hangs up."""

    def __init__(self, reader: asyncio.StreamReader | None, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def gone(self) -> bool:
        """True once the client closed (EOF or reset). An HTTP/1.1 client sends
        nothing while it waits for a response, so EOF means it gave up."""
        if self.writer.transport.is_closing():
            return True
        reader = self.reader
        return reader is not None and (reader.at_eof() or reader.exception() is not None)

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``; raise ``Disconnect`` as soon as the client is gone."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self.gone():
            left = end - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, _PEER_POLL))
        raise Disconnect


async def _inject(out: _Body, fault: Fault) -> bool:
    """Send an event-positioned fault; False when the stream must end after it."""
    if fault.kind == "garbage_after":
        await out.send(fault.data)
        if fault.then == "close":
            await out.flush()
            raise Disconnect
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

    def __init__(self, peer: _Peer, chunked: bool, faults: list[Fault]) -> None:
        self._peer = peer
        self._writer = peer.writer
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
            raise Disconnect
        if fault.kind == "stall_after":
            await self._peer.pause(fault.seconds)
        elif fault.kind == "trickle_after":
            for _ in range(fault.count):
                await self._peer.pause(fault.seconds)
                self._writer.write(self._framed(fault.data))
                await self._writer.drain()
            if fault.then == "close":
                raise Disconnect
        elif fault.kind == "flood_after":
            self._writer.write(self._framed(fault.data))
            piece = b"a" * _BATCH_BYTES
            for start in range(0, fault.size, _BATCH_BYTES):
                self._writer.write(self._framed(piece[: fault.size - start]))
                await self._writer.drain()
            raise Disconnect

    def _framed(self, data: bytes) -> bytes:
        if not self._chunked:
            return data
        return b"%x\r\n%b\r\n" % (len(data), data)
