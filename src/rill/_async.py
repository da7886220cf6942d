"""The asynchronous driver: the same ``StreamSession`` as the sync driver,
over an async transport (aiohttp on asyncio by default, httpx for a user's
``httpx.AsyncClient`` or on trio), and anyio for sleeping between retries
(so it runs on any backend)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

from typing_extensions import deprecated

from ._chunks import StreamChunk
from ._completion import CompletionOptions, CompletionPrompt, prepare_completion
from ._errors import RemoteError
from ._messages import Prompt
from ._request import RequestOptions, ResumeOptions, prepare_request, prepare_resume
from ._response import GenerationResponse
from ._session import StreamSession
from .transports import async_transport, check_async_client

if TYPE_CHECKING:
    import aiohttp
    import httpx

__all__ = [
    "AsyncStream",
    "acomplete",
    "acomplete_stream",
    "agenerate",
    "agenerate_stream",
    "aresume_stream",
]


class AsyncStream:
    """An async iterator of :class:`StreamChunk` and an async context manager.

    Without ``http_client=`` the stream uses the running event loop's pool
    (aiohttp on asyncio; closed when the loop shuts down); pass an
    ``aiohttp.ClientSession`` or ``httpx.AsyncClient`` to use your own.
    Cancelling the task, leaving ``async with`` or ``aclose()`` closes the
    response.
    """

    __slots__ = ("__weakref__", "_chunks", "_session")

    def __init__(self, session: StreamSession, client: object) -> None:
        self._session = session
        drive = _drive if session.hooks is None else _observed
        self._chunks = drive(session, client)

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        # The generator itself, so ``async for`` costs no extra frame per chunk.
        return self._chunks

    def __anext__(self) -> Awaitable[StreamChunk]:
        return self._chunks.__anext__()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        await self._chunks.aclose()

    @property
    def response(self) -> GenerationResponse:
        return self._session.response

    @property
    def last_read(self) -> list[StreamChunk]:
        """The chunks that arrived in the latest network read. A consumer that
        redraws can do it once when it reaches the last of them."""
        return self._session.last_read

    async def auntil_done(self) -> GenerationResponse:
        """Read the rest of the stream and return the final response."""
        async for _ in self:
            pass
        return self._session.response

    @deprecated("AsyncStream.until_done() is deprecated; use auntil_done()")
    async def until_done(self) -> GenerationResponse:
        """Deprecated: ``auntil_done()`` (async methods take the ``a``
        prefix, as ``aclose`` does). Kept for one release."""
        return await self.auntil_done()

    def __repr__(self) -> str:
        request = self._session.request
        return f"<rill.AsyncStream {request.provider.name}/{request.call.model}>"


async def _observed(session: StreamSession, client: object) -> AsyncGenerator[StreamChunk, None]:
    """``_drive`` for a session with hooks, which hear how the call ended."""
    outcome: BaseException | None = None
    chunks = _drive(session, client)
    try:
        async for chunk in chunks:
            yield chunk
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        await chunks.aclose()
        session.conclude(outcome)


async def _drive(session: StreamSession, client: object) -> AsyncGenerator[StreamChunk, None]:
    transport, owned = await async_transport(client)
    try:
        attempt = 0
        while True:
            wait = session.admit()
            if wait > 0:
                await _sleep(wait)
            session.start()
            try:
                response = await transport.send(session)
            except RemoteError as exc:
                error = exc
            else:
                try:
                    if session.begin(response.status, response.headers):
                        callback = session.request.callback
                        is_async = session.request.callback_is_async
                        feed = session.feed
                        async for data in response.body():
                            for chunk in feed(data):
                                if callback is not None:
                                    await _call(callback, chunk, is_async)
                                yield chunk
                            session.after_read()
                        for chunk in session.flush():
                            if callback is not None:
                                await _call(callback, chunk, is_async)
                            yield chunk
                        return
                    error = session.status_failure(await response.aread_error_body())
                finally:
                    await response.aclose()
            delay = session.retry_delay(error, attempt)
            if delay is None:
                raise error
            await _sleep(delay)
            attempt += 1
    finally:
        if owned:
            await transport.aclose()


async def _sleep(seconds: float) -> None:
    import anyio  # only a retry needs it: kept out of ``import rill``

    await anyio.sleep(seconds)


async def _call(callback: Callable[[Any], Any], chunk: StreamChunk, is_async: bool) -> None:
    result = callback(chunk)
    if is_async or inspect.isawaitable(result):
        await result


def agenerate_stream(
    prompt: Prompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    **options: Unpack[RequestOptions],
) -> AsyncStream:
    """Async twin of :func:`generate_stream`; a coroutine ``callback`` is awaited."""
    request = prepare_request(prompt, options, callback=callback)
    check_async_client(http_client)
    return AsyncStream(StreamSession(request), http_client)


async def agenerate(
    prompt: Prompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    **options: Unpack[RequestOptions],
) -> GenerationResponse:
    """Async twin of :func:`generate`."""
    async with agenerate_stream(
        prompt, callback=callback, http_client=http_client, **options
    ) as stream:
        return await stream.auntil_done()


def acomplete_stream(
    prompt: CompletionPrompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    **options: Unpack[CompletionOptions],
) -> AsyncStream:
    """Async twin of :func:`complete_stream`; a coroutine ``callback`` is awaited."""
    request = prepare_completion(prompt, options, callback=callback)
    check_async_client(http_client)
    return AsyncStream(StreamSession(request), http_client)


async def acomplete(
    prompt: CompletionPrompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    **options: Unpack[CompletionOptions],
) -> GenerationResponse:
    """Async twin of :func:`complete`."""
    async with acomplete_stream(
        prompt, callback=callback, http_client=http_client, **options
    ) as stream:
        return await stream.auntil_done()


def aresume_stream(
    response_id: str,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    **options: Unpack[ResumeOptions],
) -> AsyncStream:
    """Async twin of :func:`resume_stream`."""
    request = prepare_resume(response_id, options, callback=callback)
    check_async_client(http_client)
    return AsyncStream(StreamSession(request), http_client)
