"""What both drivers need from httpx, in one place: the request, the body
iterators (content-encoding undone in bounded pieces, error bodies read up
to a bound), and the default clients, whose sockets enforce the session's
deadlines (``_deadlines``)."""

from __future__ import annotations

import atexit
import ssl
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import cast

import httpx

from ._deadlines import install
from ._session import MAX_ERROR_BODY, StreamSession
from .wire._decompress import ACCEPT_ENCODING, Decompressor

__all__ = [
    "abody_bytes",
    "aread_error_body",
    "async_client",
    "body_bytes",
    "build_httpx_request",
    "default_client",
    "is_connect_timeout",
    "read_error_body",
]

_default_client: httpx.Client | None = None
_default_lock = threading.Lock()


def default_client() -> httpx.Client:
    """A process-wide pooled client for calls that bring none."""
    global _default_client
    if _default_client is None:
        with _default_lock:
            if _default_client is None:
                _default_client = httpx.Client(
                    timeout=None, limits=httpx.Limits(max_keepalive_connections=20)
                )
                install(_default_client)
                # Pooled keep-alive sockets are closed at exit, not left to the GC.
                atexit.register(_default_client.close)
    return _default_client


_ssl_context: ssl.SSLContext | None = None


def async_client() -> httpx.AsyncClient:
    """A client for one async stream that brings none. Clients cannot be
    shared across event loops, but the SSL context (the expensive part, ~20 ms
    to build) can, so every such client reuses one."""
    global _ssl_context
    if _ssl_context is None:
        with _default_lock:
            if _ssl_context is None:
                _ssl_context = httpx.create_ssl_context()
    client = httpx.AsyncClient(timeout=None, verify=_ssl_context)
    install(client)
    return client


def build_httpx_request(
    client: httpx.Client | httpx.AsyncClient, session: StreamSession
) -> httpx.Request:
    """The request, with httpx's own timeouts as a backstop: the session's
    deadlines are what bound each phase (see ``_deadlines``)."""
    http = session.request.http
    timeouts = session.request.timeouts
    headers = {"accept-encoding": ACCEPT_ENCODING, **http.headers}
    return client.build_request(
        http.method,
        http.url,
        content=http.body,
        headers=headers,
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=max(timeouts.first_token, timeouts.idle),
            write=timeouts.connect,
            pool=timeouts.connect,
        ),
    )


def body_bytes(response: httpx.Response) -> Iterable[bytes]:
    """The body as it arrives. Without a content-encoding the transport's own
    byte stream is read directly: ``iter_raw`` would re-chunk and count every
    read, work a streaming client does not need."""
    encoding = _encoding(response)
    if encoding is None:
        return cast("Iterable[bytes]", response.stream)
    return _inflated(response.iter_raw(), Decompressor(encoding))


def abody_bytes(response: httpx.Response) -> AsyncIterable[bytes]:
    """Async twin of ``body_bytes``."""
    encoding = _encoding(response)
    if encoding is None:
        return cast("AsyncIterable[bytes]", response.stream)
    return _ainflated(response.aiter_raw(), Decompressor(encoding))


def read_error_body(response: httpx.Response) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of an error response's body."""
    parts: list[bytes] = []
    size = 0
    for data in body_bytes(response):
        parts.append(data)
        size += len(data)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(parts)[:MAX_ERROR_BODY]


async def aread_error_body(response: httpx.Response) -> bytes:
    """Async twin of ``read_error_body``."""
    parts: list[bytes] = []
    size = 0
    async for data in abody_bytes(response):
        parts.append(data)
        size += len(data)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(parts)[:MAX_ERROR_BODY]


def _inflated(raw: Iterable[bytes], decompressor: Decompressor) -> Iterator[bytes]:
    for data in raw:
        yield from decompressor.decode(data)
    tail = decompressor.flush()
    if tail:
        yield tail


async def _ainflated(raw: AsyncIterable[bytes], decompressor: Decompressor) -> AsyncIterator[bytes]:
    async for data in raw:
        for piece in decompressor.decode(data):
            yield piece
    tail = decompressor.flush()
    if tail:
        yield tail


def is_connect_timeout(exc: httpx.TimeoutException) -> bool:
    """True when the timeout struck before a connection was had."""
    return isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)


def _encoding(response: httpx.Response) -> str | None:
    """The body's content-encoding to undo, or None for identity."""
    encoding = response.headers.get("content-encoding", "identity").strip()
    return None if encoding.lower() in ("", "identity") else encoding
