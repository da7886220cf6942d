"""Deadlines enforced on every socket operation of an httpx client.

httpx takes a request's timeouts once per phase: httpcore reads the read
timeout when it starts on the response headers and again when it starts on
the body, then passes that same number to every ``recv``. So a deadline that
moves while a response is read (``idle`` after each output) cannot be told to
httpx, and a per-read timeout bounds neither a server that trickles its
headers nor one that sends a keep-alive comment every few seconds.

The session owns the deadlines (sans-IO); this module is how the drivers make
the socket honour them. A context variable holds the current call's
``Deadline``, whose ``at`` is the next deadline (a ``time.perf_counter()``
instant). ``install`` wraps the network
backend of every standard httpx transport of a client, once, so that each
connect, read and write is given at most the time left until that deadline
and fails with httpcore's own timeout exception (which httpx maps to
``httpx.TimeoutException``) once it has passed. The wrapper is inert for
requests made outside a rill call (the variable is then unset), so it is
harmless on a client the user shares with other code.

Clients whose transports are not httpx's own (a ``MockTransport``, a custom
transport) cannot be wrapped: ``install`` returns False, and the async driver
then bounds each read with a cancel scope instead, while the sync driver can
check the deadlines only between reads.

A context variable rather than a thread-local: each asyncio task and each
thread has its own, and a generator runs in the context of whoever iterates
it, which is the code that is about to read.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Iterable
from contextvars import ContextVar

import httpcore
import httpx

__all__ = ["Deadline", "install", "unwrap"]


class Deadline:
    """One call's next deadline (``at``, a ``time.perf_counter()`` instant,
    or None while the caller's own code runs). The context variable holds
    this object rather than the number, so moving the deadline on each read
    is an attribute store; the variable is set again only when another
    call's ``Deadline`` took its place in this context meanwhile."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None

    def arm(self, at: float | None) -> None:
        if _current() is not self:
            _deadline.set(self)
        self.at = at


_deadline: ContextVar[Deadline | None] = ContextVar("rill_deadline", default=None)
_current = _deadline.get


def _cap(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the current deadline."""
    deadline = _current()
    if deadline is None:
        return timeout
    at = deadline.at
    if at is None:
        return timeout
    left = at - time.perf_counter()
    if left <= 0.0:
        raise expired("the call's deadline passed")
    return left if timeout is None or left < timeout else timeout


class _Stream(httpcore.NetworkStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)
        )
        return _Stream(inner)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


def unwrap(stream: object) -> object:
    """The network stream under ``stream``, when ``install`` wrapped it: for
    a reader that bounds each read with the session's deadline itself."""
    return stream._inner if isinstance(stream, _Stream) else stream


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _cap(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _Stream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _cap(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _Stream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(
            ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)
        )
        return _AsyncStream(inner)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, _cap(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _AsyncStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, _cap(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _AsyncStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Wrap the network backend of each of ``client``'s httpx transports (its
    default one and its mounts, proxies included). True when every transport
    the client can use now enforces deadlines; idempotent.

    This reaches into httpx's ``HTTPTransport``/``AsyncHTTPTransport`` and
    httpcore's pool, whose network backend is not otherwise configurable
    through httpx; anything that does not look as expected is left alone."""
    transports: list[object] = [getattr(client, "_transport", None)]
    transports.extend(getattr(client, "_mounts", {}).values())
    enforced = True
    for transport in transports:
        if transport is None:  # a mount that disables a proxy for some URLs
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _Backend | _AsyncBackend):
            continue
        if isinstance(backend, httpcore.NetworkBackend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
        elif isinstance(backend, httpcore.AsyncNetworkBackend):
            pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
        else:
            enforced = False
    return enforced
