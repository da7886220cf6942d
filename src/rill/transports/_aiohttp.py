"""aiohttp behind the seam: the async transport on asyncio.

At high concurrency the transport dominates a streaming client's CPU, and
aiohttp's C-accelerated HTTP parser and plain asyncio protocol cost less per
read than httpx's async stack (see ``benchmarks/concurrency.py``).

Deadlines without a timer per read: the wait for the response head runs
under one ``asyncio.timeout``; the body is watched by a ``_Watchdog``, one
timer per response, armed at the session's deadline. When it fires it looks
at the deadline again (each read that produced output has moved it later)
and re-arms; only a deadline that really passed closes the connection,
which ends the pending read, and the read is reported as
``session.expired()``. A deadline that moves earlier (the first output
switches from the first-token to the idle bound) re-arms it at once. So a
stream pays for its timer about once per idle period, not once per read.

Content-encoding is left to rill (``auto_decompress=False``), so a body is
inflated in bounded pieces as on every transport. aiohttp's exceptions
become rill's in ``_translate``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping

import aiohttp
from yarl import URL

from .._errors import RemoteError
from .._session import StreamSession
from ..wire._decompress import ACCEPT_ENCODING
from ._seam import acapped, ainflated, content_encoding

__all__ = ["AiohttpTransport", "pooled_transport"]


def _translate(
    exc: BaseException, session: StreamSession, watchdog: _Watchdog | None
) -> RemoteError:
    """aiohttp's (or asyncio's timeout) exception as rill's error."""
    if isinstance(exc, RemoteError):
        return session.fail(exc)
    if watchdog is not None and watchdog.fired:
        return session.expired()
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return session.expired(connecting=True)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return session.expired()
    return session.failure(exc)


def _environment_proxy(url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` name for
    ``url`` unless ``NO_PROXY`` exempts it, with its credentials apart.

    What aiohttp's ``trust_env`` finds, read here in place: aiohttp reads the
    environment (and ``~/.netrc``) in a worker thread on every request, and
    at a hundred concurrent calls those thread hops delay first tokens by
    tens of milliseconds. rill sends its own credentials, so ``.netrc`` has
    nothing to add (httpx does not read it either).
    """
    proxies = urllib.request.getproxies_environment()
    if not proxies:
        return None, None
    target = urllib.parse.urlsplit(url)
    proxy = proxies.get(target.scheme)
    if proxy is None or urllib.request.proxy_bypass(target.hostname or ""):
        return None, None
    parsed = URL(proxy)
    if parsed.user is None:
        return proxy, None
    auth = aiohttp.BasicAuth(parsed.user, parsed.password or "")
    return str(parsed.with_user(None)), auth


class AiohttpTransport:
    """Async requests through an ``aiohttp.ClientSession``; with
    ``environment_proxies``, through the proxy the environment names (rill's
    pooled session; a caller's session keeps its own ``trust_env``)."""

    __slots__ = ("_client", "_proxies")

    def __init__(self, client: aiohttp.ClientSession, *, environment_proxies: bool = False) -> None:
        self._client = client
        self._proxies = environment_proxies

    async def send(self, session: StreamSession) -> AiohttpResponse:
        http = session.request.http
        timeouts = session.request.timeouts
        headers = {"accept-encoding": ACCEPT_ENCODING, **http.headers}
        proxy, proxy_auth = _environment_proxy(http.url) if self._proxies else (None, None)
        left = max(0.0, session.deadline - time.perf_counter())
        try:
            async with asyncio.timeout(left):
                response = await self._client.request(
                    http.method,
                    http.url,
                    data=http.body,
                    headers=headers,
                    allow_redirects=False,
                    auto_decompress=False,
                    proxy=proxy,
                    proxy_auth=proxy_auth,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _translate(exc, session, None) from None
        return AiohttpResponse(response, session)

    async def aclose(self) -> None:
        await self._client.close()


class AiohttpResponse:
    __slots__ = ("_body", "_response", "_session", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, session: StreamSession) -> None:
        self._response = response
        self._session = session
        self.status = response.status
        # The seam promises lower-cased names (aiohttp keeps the server's case).
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.items()}
        self._body: AsyncGenerator[bytes, None] | None = None

    def body(self) -> AsyncIterator[bytes]:
        self._body = self._pieces()
        return self._body

    async def _pieces(self) -> AsyncGenerator[bytes, None]:
        session = self._session
        content = self._response.content
        watchdog = _Watchdog(session, self._response)
        encoding = content_encoding(self.headers)
        pieces = _pieces(content) if encoding is None else ainflated(content.iter_any(), encoding)
        try:
            async for data in pieces:
                yield data
                if session.deadline < watchdog.at:
                    watchdog.rearm()  # the deadline moved earlier (first output: idle)
        except (TimeoutError, aiohttp.ClientError, OSError, RemoteError) as exc:
            raise _translate(exc, session, watchdog) from None
        finally:
            watchdog.cancel()
            await pieces.aclose()
        if watchdog.fired:  # the connection was closed under a read that then ended
            raise session.expired()

    async def aread_error_body(self) -> bytes:
        return await acapped(self.body())

    async def aclose(self) -> None:
        if self._body is not None:
            await self._body.aclose()
        # A body read to its end returns the connection to the pool.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()
            # asyncio closes the socket from a callback on the loop's next
            # turn: take that turn, so the connection is closed (as the
            # server sees it) by the time leaving ``async with`` returns.
            await asyncio.sleep(0)


async def _pieces(content: aiohttp.StreamReader) -> AsyncGenerator[bytes, None]:
    """Whatever has arrived, at each read: one read per network burst."""
    while data := await content.readany():
        yield data


class _Watchdog:
    """Closes the response when the session's deadline passes while a read
    waits; otherwise re-arms for the deadline as it now is."""

    __slots__ = ("_handle", "_loop", "_response", "_session", "at", "fired")

    def __init__(self, session: StreamSession, response: aiohttp.ClientResponse) -> None:
        self._session = session
        self._response = response
        self._loop = asyncio.get_running_loop()
        self.fired = False
        self.at = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self.at = at = self._session.deadline
        left = at - time.perf_counter()
        self._handle = self._loop.call_at(self._loop.time() + left, self._check)

    def rearm(self) -> None:
        self.cancel()
        self._arm()

    def _check(self) -> None:
        if time.perf_counter() < self._session.deadline:
            self._arm()  # output (or the caller's own time) moved the deadline on
            return
        self.fired = True
        self._handle = None
        self._response.close()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


# ------------------------------------------------------------------- pooling

_ssl_context: ssl.SSLContext | None = None
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AiohttpTransport] = (
    weakref.WeakKeyDictionary()
)


async def pooled_transport() -> AiohttpTransport:
    """The running loop's pooled transport, created on first use and closed
    when the loop shuts down. Never shared across loops: a connection belongs
    to the loop that opened it."""
    loop = asyncio.get_running_loop()
    transport = _pools.get(loop)
    if transport is not None and not transport._client.closed:
        return transport
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    client = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=_ssl_context),
        auto_decompress=False,
        trust_env=False,  # the environment's proxies are read per request, in place
        timeout=aiohttp.ClientTimeout(total=None),
    )
    transport = _pools[loop] = AiohttpTransport(client, environment_proxies=True)
    # asyncio.run() (and any loop closed with shutdown_asyncgens) finalizes
    # every live async generator before closing the loop: this one's
    # ``finally`` closes the pool there, inside the loop that owns it.
    keeper = _close_at_shutdown(loop, client)
    await keeper.asend(None)
    _keepers[loop] = keeper
    return transport


_keepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_shutdown(
    loop: asyncio.AbstractEventLoop, client: aiohttp.ClientSession
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        _pools.pop(loop, None)
        _keepers.pop(loop, None)
        await client.close()
