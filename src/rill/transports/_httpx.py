"""httpx behind the seam: the sync transport, and the async one for a user's
``httpx.AsyncClient`` or an event loop other than asyncio (trio).

Deadlines reach the socket through ``_deadlines``: the call's ``Deadline``
is armed with the session's deadline before the request and before each body
read, and disarmed while the caller's code runs between reads. A client whose
transport rill cannot wrap is bounded per read by a cancel scope (async) or
checked between reads by the session (sync). httpx's exceptions become rill's
in ``_translate``, the one place that knows them.

rill's own sync client (``default_client``) reads a chunked HTTP/1.1 body
from the socket itself (``_direct``), which has its own deadline handling and
raises rill's errors directly.
"""

from __future__ import annotations

import atexit
import builtins
import ssl
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import cast

import anyio
import httpx

from .._errors import RemoteError
from .._session import StreamSession
from ..wire._decompress import ACCEPT_ENCODING
from ._deadlines import Deadline, install
from ._direct import DirectBody
from ._seam import acapped, ainflated, capped, content_encoding, inflated

__all__ = ["AsyncHttpxTransport", "HttpxTransport", "default_client", "new_async_client"]


def _translate(exc: Exception, session: StreamSession, *, sending: bool) -> RemoteError:
    """httpx's (or a cancel scope's) exception as rill's error."""
    if isinstance(exc, httpx.TimeoutException | builtins.TimeoutError):
        connecting = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return session.expired(connecting=connecting and sending)
    return session.failure(exc)


def _request(client: httpx.Client | httpx.AsyncClient, session: StreamSession) -> httpx.Request:
    """The request, with httpx's own timeouts only as a backstop: the
    session's deadlines are what bound each phase."""
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


# ---------------------------------------------------------------------- sync


class HttpxTransport:
    """Sync requests through an ``httpx.Client`` (rill's pooled default, or
    the caller's). ``direct``: the client is rill's own, whose chunked
    HTTP/1.1 bodies are read from the socket (``_direct``)."""

    __slots__ = ("_client", "_direct")

    def __init__(self, client: httpx.Client, *, direct: bool = False) -> None:
        install(client)
        self._client = client
        self._direct = direct

    def send(self, session: StreamSession) -> HttpxResponse:
        deadline = Deadline()
        deadline.arm(session.deadline)
        try:
            response = self._client.send(
                _request(self._client, session), stream=True, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise _translate(exc, session, sending=True) from None
        finally:
            deadline.at = None
        return HttpxResponse(response, session, deadline, self._direct)


class HttpxResponse:
    __slots__ = ("_body", "_deadline", "_direct", "_response", "_session", "headers", "status")

    def __init__(
        self,
        response: httpx.Response,
        session: StreamSession,
        deadline: Deadline,
        direct: bool = False,
    ):
        self._response = response
        self._session = session
        self._deadline = deadline
        self._direct = direct
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self._body: Generator[bytes, None, None] | None = None

    def body(self) -> Iterator[bytes]:
        direct = DirectBody.take(self._response) if self._direct else None
        if direct is None:
            self._body = self._pieces()
        else:
            encoding = content_encoding(self.headers)
            pieces = direct.pieces(self._session)
            self._body = pieces if encoding is None else _inflating(pieces, encoding, self._session)
        return self._body

    def _pieces(self) -> Generator[bytes, None, None]:
        response = self._response
        encoding = content_encoding(self.headers)
        # Without a content-encoding the transport's own byte stream is read
        # directly: iter_raw would re-chunk and count every read.
        raw = cast("Iterable[bytes]", response.stream) if encoding is None else response.iter_raw()
        pieces = raw if encoding is None else inflated(raw, encoding)
        session, deadline = self._session, self._deadline
        try:
            deadline.arm(session.deadline)
            for data in pieces:
                # The caller's code, run while this generator is suspended, is
                # not bound by the call's deadline.
                deadline.at = None
                yield data
                deadline.arm(session.deadline)
        except httpx.HTTPError as exc:
            raise _translate(exc, session, sending=False) from None
        except RemoteError as exc:  # a corrupt compressed body
            raise session.fail(exc) from None
        finally:
            deadline.at = None

    def read_error_body(self) -> bytes:
        return capped(self.body())

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
        self._response.close()


def _inflating(
    raw: Iterable[bytes], encoding: str, session: StreamSession
) -> Generator[bytes, None, None]:
    try:
        yield from inflated(raw, encoding)
    except RemoteError as exc:  # a corrupt compressed body
        raise session.fail(exc) from None


_default_client: httpx.Client | None = None
_default_lock = threading.Lock()


def default_client() -> httpx.Client:
    """A process-wide pooled client for sync calls that bring none."""
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


# --------------------------------------------------------------------- async


class AsyncHttpxTransport:
    """Async requests through an ``httpx.AsyncClient``."""

    __slots__ = ("_client", "_scoped")

    def __init__(self, client: httpx.AsyncClient) -> None:
        # A transport rill cannot wrap gets a cancel scope around each read.
        self._scoped = not install(client)
        self._client = client

    async def send(self, session: StreamSession) -> AsyncHttpxResponse:
        deadline = Deadline()
        deadline.arm(session.deadline)
        request = _request(self._client, session)
        try:
            if self._scoped:
                with anyio.fail_after(_left(session)):
                    response = await self._client.send(request, stream=True, follow_redirects=False)
            else:
                response = await self._client.send(request, stream=True, follow_redirects=False)
        except (httpx.HTTPError, builtins.TimeoutError) as exc:
            raise _translate(exc, session, sending=True) from None
        finally:
            deadline.at = None
        return AsyncHttpxResponse(response, session, deadline, self._scoped)

    async def aclose(self) -> None:
        await self._client.aclose()


class AsyncHttpxResponse:
    __slots__ = ("_body", "_deadline", "_response", "_scoped", "_session", "headers", "status")

    def __init__(
        self, response: httpx.Response, session: StreamSession, deadline: Deadline, scoped: bool
    ):
        self._response = response
        self._session = session
        self._deadline = deadline
        self._scoped = scoped
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self._body: AsyncGenerator[bytes, None] | None = None

    def body(self) -> AsyncIterator[bytes]:
        self._body = self._pieces()
        return self._body

    async def _pieces(self) -> AsyncGenerator[bytes, None]:
        response = self._response
        encoding = content_encoding(self.headers)
        raw = cast(
            "AsyncGenerator[bytes, None]",
            aiter(cast("AsyncIterable[bytes]", response.stream))
            if encoding is None
            else response.aiter_raw(),
        )
        # Each layer is an async generator that must be closed explicitly
        # when the caller stops early (trio warns of one left to the GC).
        layers = [raw]
        if encoding is not None:
            layers.append(ainflated(raw, encoding))
        if self._scoped:
            layers.append(_scoped(layers[-1], self._session))
        session, deadline = self._session, self._deadline
        try:
            deadline.arm(session.deadline)
            async for data in layers[-1]:
                deadline.at = None
                yield data
                deadline.arm(session.deadline)
        except (httpx.HTTPError, builtins.TimeoutError) as exc:
            raise _translate(exc, session, sending=False) from None
        except RemoteError as exc:  # a corrupt compressed body
            raise session.fail(exc) from None
        finally:
            deadline.at = None
            for layer in reversed(layers):
                await layer.aclose()

    async def aread_error_body(self) -> bytes:
        return await acapped(self.body())

    async def aclose(self) -> None:
        # An async generator left suspended must be closed by its owner (trio
        # insists): the body's, before the response under it.
        if self._body is not None:
            await self._body.aclose()
        await self._response.aclose()


def _left(session: StreamSession) -> float:
    return max(0.0, session.deadline - time.perf_counter())


async def _scoped(
    body: AsyncIterable[bytes], session: StreamSession
) -> AsyncGenerator[bytes, None]:
    """``body``, each read bounded by the session's deadline with a cancel
    scope (raising the builtin ``TimeoutError``)."""
    reads = aiter(body)
    while True:
        with anyio.fail_after(_left(session)):
            try:
                data = await anext(reads)
            except StopAsyncIteration:
                return
        yield data


_ssl_context: ssl.SSLContext | None = None


def new_async_client() -> httpx.AsyncClient:
    """A client for async calls that bring none, where aiohttp is not used.
    Clients cannot be shared across event loops, but the SSL context (the
    expensive part, ~20 ms to build) can, so every such client reuses one."""
    global _ssl_context
    if _ssl_context is None:
        with _default_lock:
            if _ssl_context is None:
                _ssl_context = httpx.create_ssl_context()
    return httpx.AsyncClient(timeout=None, verify=_ssl_context)
