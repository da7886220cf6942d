"""The asynchronous driver: the same ``StreamSession`` as the sync driver,
with httpx's async client and anyio for sleeping (so it runs on any backend)."""

from __future__ import annotations

import builtins
import inspect
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Unpack

import anyio
import httpx

from ._chunks import StreamChunk
from ._deadlines import Deadline, install
from ._errors import RemoteError
from ._messages import Prompt
from ._request import RequestOptions, ResumeOptions, prepare_request, prepare_resume
from ._response import GenerationResponse
from ._session import StreamSession
from ._transport import (
    abody_bytes,
    aread_error_body,
    async_client,
    build_httpx_request,
    is_connect_timeout,
)

__all__ = ["AsyncStream", "agenerate", "agenerate_stream", "aresume_stream"]


class AsyncStream:
    """An async iterator of :class:`StreamChunk` and an async context manager.

    Without ``http_client=`` the stream owns a client for its one request and
    closes it with the stream; pass an ``httpx.AsyncClient`` to pool
    connections across calls. Cancelling the task, leaving ``async with``
    or ``aclose()`` closes the response.
    """

    __slots__ = ("__weakref__", "_chunks", "_session")

    def __init__(self, session: StreamSession, client: httpx.AsyncClient | None) -> None:
        self._session = session
        self._chunks = _drive(session, client)

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

    async def until_done(self) -> GenerationResponse:
        """Read the rest of the stream and return the final response."""
        async for _ in self:
            pass
        return self._session.response

    def __repr__(self) -> str:
        request = self._session.request
        return f"<rill.AsyncStream {request.provider.name}/{request.call.model}>"


async def _drive(
    session: StreamSession, client: httpx.AsyncClient | None
) -> AsyncGenerator[StreamChunk, None]:
    owned = client is None
    http = async_client() if client is None else client
    # A transport rill cannot wrap gets a cancel scope around each read instead.
    scoped = not install(http)
    deadline = Deadline()
    try:
        attempt = 0
        while True:
            session.start()
            deadline.arm(session.deadline)
            try:
                request = build_httpx_request(http, session)
                if scoped:
                    with anyio.fail_after(_left(session)):
                        response = await http.send(request, stream=True, follow_redirects=False)
                else:
                    response = await http.send(request, stream=True, follow_redirects=False)
            except httpx.TimeoutException as exc:
                error: RemoteError = session.expired(connecting=is_connect_timeout(exc))
            except builtins.TimeoutError:
                error = session.expired()
            except httpx.HTTPError as exc:
                error = session.failure(exc)
            else:
                try:
                    if session.begin(response.status_code, response.headers):
                        callback = session.request.callback
                        is_async = session.request.callback_is_async
                        feed = session.feed
                        body = abody_bytes(response)
                        async for data in _scoped(body, session) if scoped else body:
                            chunks = feed(data)
                            # The caller's own code, run at each yield, is not
                            # bound by this call's deadline.
                            deadline.at = None
                            for chunk in chunks:
                                if callback is not None:
                                    await _call(callback, chunk, is_async)
                                yield chunk
                            deadline.arm(session.after_read())
                        chunks = session.end()
                        deadline.at = None
                        for chunk in chunks:
                            if callback is not None:
                                await _call(callback, chunk, is_async)
                            yield chunk
                        return
                    if scoped:
                        with anyio.fail_after(_left(session)):
                            body_read = await aread_error_body(response)
                    else:
                        body_read = await aread_error_body(response)
                    error = session.status_failure(body_read)
                except (httpx.TimeoutException, builtins.TimeoutError):
                    raise session.expired() from None
                except httpx.HTTPError as exc:
                    raise session.failure(exc) from None
                except RemoteError as exc:
                    raise session.fail(exc) from None
                finally:
                    await response.aclose()
            delay = session.retry_delay(error, attempt)
            if delay is None:
                raise error
            await anyio.sleep(delay)
            attempt += 1
    finally:
        deadline.at = None
        if owned:
            await http.aclose()


def _left(session: StreamSession) -> float:
    return max(0.0, session.deadline - time.perf_counter())


async def _scoped(body: AsyncIterable[bytes], session: StreamSession) -> AsyncIterator[bytes]:
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


async def _call(callback: Callable[[Any], Any], chunk: StreamChunk, is_async: bool) -> None:
    result = callback(chunk)
    if is_async or inspect.isawaitable(result):
        await result


def agenerate_stream(
    prompt: Prompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | None = None,
    **options: Unpack[RequestOptions],
) -> AsyncStream:
    """Async twin of :func:`generate_stream`; a coroutine ``callback`` is awaited."""
    request = prepare_request(prompt, options, callback=callback)
    return AsyncStream(StreamSession(request), http_client)


async def agenerate(
    prompt: Prompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | None = None,
    **options: Unpack[RequestOptions],
) -> GenerationResponse:
    """Async twin of :func:`generate`."""
    async with agenerate_stream(
        prompt, callback=callback, http_client=http_client, **options
    ) as stream:
        return await stream.until_done()


def aresume_stream(
    response_id: str,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.AsyncClient | None = None,
    **options: Unpack[ResumeOptions],
) -> AsyncStream:
    """Async twin of :func:`resume_stream`."""
    request = prepare_resume(response_id, options, callback=callback)
    return AsyncStream(StreamSession(request), http_client)
