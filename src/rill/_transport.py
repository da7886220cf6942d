"""What both drivers need from httpx, in one place: the request, per-phase
timeouts, the body iterator choice, and the default client."""

from __future__ import annotations

import atexit
import ssl
import threading
from collections.abc import AsyncIterable, Iterable
from typing import Any, cast

import httpx

from ._session import StreamSession

__all__ = [
    "abody_bytes",
    "async_client",
    "body_bytes",
    "build_httpx_request",
    "default_client",
    "switch_to_idle_timeout",
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
    return httpx.AsyncClient(timeout=None, verify=_ssl_context)


def build_httpx_request(
    client: httpx.Client | httpx.AsyncClient, session: StreamSession
) -> httpx.Request:
    http = session.request.http
    timeouts = session.request.timeouts
    return client.build_request(
        http.method,
        http.url,
        content=http.body,
        headers=dict(http.headers),
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.first_token,
            write=timeouts.connect,
            pool=timeouts.connect,
        ),
    )


def switch_to_idle_timeout(response: httpx.Response, seconds: float) -> None:
    """After the first output, the read timeout bounds the gap between reads.
    httpcore reads the timeout from the request's extensions on every receive,
    so updating that mapping takes effect for the rest of the body."""
    timeouts: Any = response.request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = seconds


def body_bytes(response: httpx.Response) -> Iterable[bytes]:
    """The body as it arrives. Without a content-encoding the transport's own
    byte stream is read directly: ``iter_raw`` would re-chunk and count every
    read, work a streaming client does not need."""
    if _encoded(response):
        return response.iter_bytes()
    return cast("Iterable[bytes]", response.stream)


def abody_bytes(response: httpx.Response) -> AsyncIterable[bytes]:
    """Async twin of ``body_bytes``."""
    if _encoded(response):
        return response.aiter_bytes()
    return cast("AsyncIterable[bytes]", response.stream)


def _encoded(response: httpx.Response) -> bool:
    """True when the body has a content-encoding (gzip, br) to undo."""
    encoding = response.headers.get("content-encoding", "identity")
    return encoding.strip().lower() not in ("", "identity")
