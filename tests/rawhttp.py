"""An HTTP/1.1 origin on loopback that writes each response exactly as a test
scripts it, byte for byte and write by write: the head and body in one write,
odd chunk framing, bytes after the end, a connection cut mid-chunk. The
emulator frames bodies correctly; this one frames them however a test asks.

It counts the connections it accepted and those the client hung up, so a
test can tell a pooled connection from a new one and a closed one.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from .listener import Listener

__all__ = ["RawOrigin", "Reply", "chunked", "head"]


def head(headers: Mapping[str, str], *, status: int = 200) -> bytes:
    """A response head (an event stream unless ``headers`` say otherwise)."""
    fields = {"content-type": "text/event-stream", **headers}
    lines = [f"HTTP/1.1 {status} OK"] + [f"{k}: {v}" for k, v in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(*pieces: bytes, ext: bytes = b"") -> bytes:
    """``pieces`` as chunks, without the last chunk."""
    return b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in pieces)


@dataclass
class Reply:
    writes: list[bytes]
    pause: float = 0.0
    """Seconds between writes (so that each tends to be its own read)."""
    close: bool = False
    """Close the connection after the last write."""
    reset: bool = False
    """Close it with a TCP reset (RST) instead of an orderly end of file."""


@dataclass
class RawOrigin:
    context: ssl.SSLContext | None = None
    replies: deque[Reply] = field(default_factory=deque)
    hangups: int = 0
    """Connections the client closed (the origin read end of file, or could
    no longer write)."""

    def __post_init__(self) -> None:
        self._listener = Listener(self._connection)

    @property
    def connections(self) -> int:
        """Connections accepted."""
        return self._listener.connections

    @property
    def base_url(self) -> str:
        scheme = "https" if self.context else "http"
        return f"{scheme}://127.0.0.1:{self._listener.port}/v1"

    def reply(
        self, *writes: bytes, pause: float = 0.0, close: bool = False, reset: bool = False
    ) -> None:
        self.replies.append(Reply(list(writes), pause, close, reset))

    def wait_hangups(self, count: int, timeout: float = 2.0) -> bool:
        end = time.monotonic() + timeout
        while self.hangups < count and time.monotonic() < end:
            time.sleep(0.01)
        return self.hangups >= count

    def __enter__(self) -> RawOrigin:
        self._listener.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()

    def _connection(self, raw: socket.socket) -> None:
        raw.settimeout(0.2)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock: socket.socket = raw
        try:
            if self.context is not None:
                raw.settimeout(5)
                sock = self.context.wrap_socket(raw, server_side=True)
                sock.settimeout(0.2)
            buffer = b""
            while not self._listener.stopping:
                request, buffer = self._request(sock, buffer)
                if request is None:
                    return
                if not self.replies:
                    return
                reply = self.replies.popleft()
                for i, data in enumerate(reply.writes):
                    if i and reply.pause:
                        time.sleep(reply.pause)
                    sock.sendall(data)
                if reply.reset:
                    linger = struct.pack("ii", 1, 0)  # on, 0 s: close() sends RST
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                if reply.close or reply.reset:
                    return
        except OSError:  # the client hung up while the origin was writing
            self.hangups += 1
        finally:
            sock.close()

    def _request(self, sock: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
        """One request (head and Content-Length body), or None once the
        client hung up or the origin is stopping."""
        while b"\r\n\r\n" not in buffer:
            data = self._recv(sock)
            if not data:
                return None, b""
            buffer += data
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            data = self._recv(sock)
            if not data:
                return None, b""
            rest += data
        return head, rest[length:]

    def _recv(self, sock: socket.socket) -> bytes:
        while not self._listener.stopping:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.hangups += 1
            return data
        return b""
