"""The one contract between the drivers and an HTTP library.

A driver (``rill._client`` for sync, ``rill._async`` for async) knows a
``StreamSession`` and a transport, nothing of httpx or aiohttp. A transport:

- ``send(session)``: sends ``session.request.http`` and returns a response
  once its status and headers arrived, never following a redirect. The
  session's ``deadline`` bounds the whole wait (connect, request, headers).
- ``response.status`` / ``response.headers`` (lower-cased names).
- ``response.body()``: the body as it arrives, content-encoding undone in
  bounded pieces (``wire._decompress``). Each read is bounded by the
  session's ``deadline`` as it is when the read starts, which the driver
  moves (``session.after_read``) between reads.
- ``response.read_error_body()``: at most ``MAX_ERROR_BODY`` bytes.
- ``response.close()``: releases the connection (back to the pool when the
  body was read to its end, closed otherwise).

Every failure leaves a transport as a ``RemoteError`` made by the session
(``session.expired`` for a deadline, ``session.failure`` for anything
else), translated in one function per HTTP library; the drivers catch
nothing library-specific. Async twins carry the same names with ``a``
prefixes where they are coroutines (``aclose``, ``aread_error_body``).
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import TYPE_CHECKING, Protocol

from ..wire._decompress import Decompressor

if TYPE_CHECKING:
    from .._session import StreamSession

__all__ = [
    "MAX_ERROR_BODY",
    "AsyncResponse",
    "AsyncTransport",
    "Response",
    "Transport",
    "acapped",
    "ainflated",
    "capped",
    "content_encoding",
    "inflated",
]

# An error body is read up to this size; the rest is not needed to report it.
MAX_ERROR_BODY = 1 << 20


class Response(Protocol):
    status: int
    headers: Mapping[str, str]

    def body(self) -> Iterator[bytes]: ...

    def read_error_body(self) -> bytes: ...

    def close(self) -> None: ...


class Transport(Protocol):
    def send(self, session: StreamSession) -> Response: ...


class AsyncResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    def body(self) -> AsyncIterator[bytes]: ...

    async def aread_error_body(self) -> bytes: ...

    async def aclose(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, session: StreamSession) -> AsyncResponse: ...

    async def aclose(self) -> None:
        """Close the client: only for a transport the call created."""
        ...


def content_encoding(headers: Mapping[str, str]) -> str | None:
    """The body's content-encoding to undo, or None for identity."""
    encoding = headers.get("content-encoding", "identity").strip()
    return None if encoding.lower() in ("", "identity") else encoding


def inflated(raw: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """``raw`` with ``encoding`` undone, in pieces of at most 64 KiB."""
    decompressor = Decompressor(encoding)
    for data in raw:
        yield from decompressor.decode(data)
    tail = decompressor.flush()
    if tail:
        yield tail


async def ainflated(raw: AsyncIterable[bytes], encoding: str) -> AsyncGenerator[bytes, None]:
    """Async twin of ``inflated``."""
    decompressor = Decompressor(encoding)
    async for data in raw:
        for piece in decompressor.decode(data):
            yield piece
    tail = decompressor.flush()
    if tail:
        yield tail


def capped(pieces: Iterable[bytes]) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of ``pieces``, reading no further."""
    parts: list[bytes] = []
    size = 0
    for data in pieces:
        parts.append(data)
        size += len(data)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(parts)[:MAX_ERROR_BODY]


async def acapped(pieces: AsyncIterable[bytes]) -> bytes:
    """Async twin of ``capped``."""
    parts: list[bytes] = []
    size = 0
    async for data in pieces:
        parts.append(data)
        size += len(data)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(parts)[:MAX_ERROR_BODY]
