"""A streamed body read straight from the socket under rill's own httpx client.

Paced the way a provider streams, each event arrives in its own read, and
most of the CPU a read costs is spent in the HTTP stack rather than in rill:
httpx's and httpcore's byte-stream generators, httpcore's exception mapping
and h11's event machinery, about as much again as rill spends on the event.
For the pooled client rill makes itself (``_httpx.default_client``), once
httpcore has sent the request and h11 has parsed the response head, a chunked
HTTP/1.1 body is read here instead: ``recv`` on the connection's socket, the
session's deadline as the socket's timeout, and ``wire._chunked`` for the
framing.

h11 stays the owner of the connection's state. The body bytes it had already
received with the head are taken from its buffer; when the body ended
cleanly, h11 is given the one last chunk (``0 CRLF CRLF``) and reads its end
of message, so that when the response is closed httpcore sees a complete
response and returns the connection to the pool as it always does. A body
that did not end cleanly (an error, the caller stopping early, bytes after
its end) leaves h11 short of the end, and closing the response then closes
the connection.

This reaches into private attributes: httpx's and httpcore's byte streams
(``_stream``, ``_httpcore_stream``, ``_connection``), httpcore's HTTP/1.1
connection (``_h11_state``, ``_network_stream``) and h11's receive buffer
(``_receive_buffer``). ``DirectBody.take`` checks each step and returns None
for anything that does not look as expected, and the body is then read
through httpx as for any other client. A user's ``httpx.Client`` always goes
through httpx.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Generator

import h11
import httpcore
import httpx

from .._errors import IncompleteStreamError, RemoteError
from .._session import StreamSession
from ..wire._chunked import ChunkedDecoder
from ._deadlines import unwrap

__all__ = ["DirectBody"]

# A read asks for this much, as httpcore does.
_READ_SIZE = 64 * 1024
# The links from an httpx response's stream down to httpcore's per-connection
# byte stream: httpx's BoundSyncStream and ResponseStream, httpcore's
# PoolByteStream.
_LINKS = ("_stream", "_httpcore_stream")
_MAX_LINKS = 6
_LAST_CHUNK = b"0\r\n\r\n"
# httpcore's stream over a plain or TLS socket, whose ``read`` is ``recv``.
_SOCKET_STREAM = ("httpcore._backends.sync", "SyncStream")


class DirectBody:
    """The body of one chunked HTTP/1.1 response, read from its socket."""

    __slots__ = ("_connection", "_leading", "_read", "_response", "_sock")

    def __init__(
        self,
        response: httpx.Response,
        connection: httpcore.HTTP11Connection,
        leading: bytes,
        read: Callable[[int, float | None], bytes],
        sock: socket.socket | None,
    ) -> None:
        self._response = response
        self._connection = connection
        self._leading = leading
        self._read = read
        self._sock = sock

    @classmethod
    def take(cls, response: httpx.Response) -> DirectBody | None:
        """Take over reading ``response``'s body, or None when it is not a
        chunked HTTP/1.1 body on one of httpcore's own connections."""
        # 204 and 304 have no body, whatever their header fields say (RFC
        # 9112 §6.3); rill sends neither HEAD nor CONNECT.
        if response.http_version != "HTTP/1.1" or response.status_code in (204, 304):
            return None
        if response.headers.get("transfer-encoding", "").strip().lower() != "chunked":
            return None
        connection = _connection(response.stream)
        if connection is None:
            return None
        state = getattr(connection, "_h11_state", None)
        if not isinstance(state, h11.Connection) or state.their_state is not h11.SEND_BODY:
            return None
        buffer = getattr(state, "_receive_buffer", None)
        stream = unwrap(getattr(connection, "_network_stream", None))
        if buffer is None or not isinstance(stream, httpcore.NetworkStream):
            return None
        # The body bytes h11 received with the head are read from here on;
        # h11 is left with none, as if the body had not begun.
        leading = bytes(buffer)
        state._receive_buffer = type(buffer)()
        return cls(response, connection, leading, stream.read, _socket(stream))

    def pieces(self, session: StreamSession) -> Generator[bytes, None, None]:
        """The payload as it arrives, each read bounded by ``session.deadline``
        as it is when the read starts."""
        decoder = ChunkedDecoder()
        decode = decoder.decode
        perf_counter = time.perf_counter
        sock = self._sock
        raw, self._leading = self._leading, b""
        while True:
            if raw:
                try:
                    data = decode(raw)
                except RemoteError as exc:
                    raise session.fail(exc) from None
                if data:
                    yield data
                if decoder.error is not None:
                    raise session.fail(decoder.error)
                if decoder.done:
                    break
            left = session.deadline - perf_counter()
            if left <= 0.0:
                raise session.expired()
            try:
                if sock is not None:
                    sock.settimeout(None if left == math.inf else left)
                    raw = sock.recv(_READ_SIZE)
                else:
                    raw = self._read(_READ_SIZE, None if left == math.inf else left)
            except (TimeoutError, httpcore.TimeoutException):
                raise session.expired() from None
            except (OSError, httpcore.NetworkError) as exc:
                raise session.failure(exc) from None
            if not raw:
                raise session.fail(
                    IncompleteStreamError(
                        "the stream was cut short: the connection closed before the body ended"
                    )
                )
        if not decoder.extra:
            self._release()

    def _release(self) -> None:
        """The body ended cleanly: h11 is given the last chunk, and reaches
        the end of the response without a read, so that closing the response
        returns the connection to the pool. Should h11 see it otherwise, the
        close closes the connection instead."""
        state = self._connection._h11_state
        try:
            state.receive_data(_LAST_CHUNK)
            state.next_event()
        except h11.ProtocolError:
            pass


def _connection(stream: object) -> httpcore.HTTP11Connection | None:
    """The HTTP/1.1 connection under an httpx response's byte stream."""
    for _ in range(_MAX_LINKS):
        connection = getattr(stream, "_connection", None)
        if connection is not None:
            return connection if isinstance(connection, httpcore.HTTP11Connection) else None
        stream = next((getattr(stream, n) for n in _LINKS if hasattr(stream, n)), None)
        if stream is None:
            return None
    return None


def _socket(stream: httpcore.NetworkStream) -> socket.socket | None:
    """The socket (plain or TLS) that ``stream`` reads from, when reading it
    directly is the same as reading ``stream``: httpcore's plain sync stream.
    Other streams (TLS inside a TLS proxy tunnel) are read through their
    own ``read``."""
    if (type(stream).__module__, type(stream).__name__) != _SOCKET_STREAM:
        return None
    sock = stream.get_extra_info("socket")
    return sock if isinstance(sock, socket.socket) else None
