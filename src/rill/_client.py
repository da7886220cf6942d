"""The synchronous driver: moves bytes between a transport and a ``StreamSession``."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Unpack

from ._chunks import StreamChunk
from ._completion import CompletionOptions, CompletionPrompt, prepare_completion
from ._errors import RemoteError
from ._messages import Prompt
from ._request import (
    RequestOptions,
    ResumeOptions,
    prepare_request,
    prepare_resume,
    reject_async_callback,
)
from ._response import GenerationResponse
from ._session import StreamSession
from .transports import Transport, check_sync_client, sync_transport

if TYPE_CHECKING:
    import httpx

__all__ = ["Stream", "complete", "complete_stream", "generate", "generate_stream", "resume_stream"]


class Stream:
    """An iterator of :class:`StreamChunk` and a context manager.

    The request is sent on the first ``next()``. Leaving a ``with`` block,
    ``break``-ing out of a loop and then dropping the object, or calling
    ``close()`` closes the HTTP response (a dropped stream's generator is
    finalized by Python, which runs its cleanup). ``response`` is the accumulated
    :class:`GenerationResponse`: final once the stream ended, a snapshot before.
    """

    __slots__ = ("__weakref__", "_chunks", "_session")

    def __init__(self, session: StreamSession, transport: Transport) -> None:
        self._session = session
        drive = _drive if session.hooks is None else _observed
        self._chunks = drive(session, transport)

    def __iter__(self) -> Iterator[StreamChunk]:
        # The generator itself, so a for loop costs no Python call per chunk.
        return self._chunks

    def __next__(self) -> StreamChunk:
        return next(self._chunks)

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._chunks.close()

    @property
    def response(self) -> GenerationResponse:
        return self._session.response

    @property
    def last_read(self) -> list[StreamChunk]:
        """The chunks that arrived in the latest network read. A consumer that
        redraws can do it once when it reaches the last of them."""
        return self._session.last_read

    def until_done(self) -> GenerationResponse:
        """Read the rest of the stream and return the final response."""
        for _ in self:
            pass
        return self._session.response

    def __repr__(self) -> str:
        request = self._session.request
        return f"<rill.Stream {request.provider.name}/{request.call.model}>"


def _observed(session: StreamSession, transport: Transport) -> Generator[StreamChunk, None, None]:
    """``_drive`` for a session with hooks, which hear how the call ended."""
    outcome: BaseException | None = None
    try:
        yield from _drive(session, transport)
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        session.conclude(outcome)


def _drive(session: StreamSession, transport: Transport) -> Generator[StreamChunk, None, None]:
    attempt = 0
    while True:
        wait = session.admit()
        if wait > 0:
            time.sleep(wait)
        session.start()
        try:
            response = transport.send(session)
        except RemoteError as exc:
            error = exc
        else:
            try:
                if session.begin(response.status, response.headers):
                    callback = session.request.callback
                    feed = session.feed
                    for data in response.body():
                        chunks = feed(data)
                        if callback is None:
                            yield from chunks
                        else:
                            for chunk in chunks:
                                callback(chunk)
                                yield chunk
                        session.after_read()
                    for chunk in session.flush():
                        if callback is not None:
                            callback(chunk)
                        yield chunk
                    return
                error = session.status_failure(response.read_error_body())
            finally:
                response.close()
        delay = session.retry_delay(error, attempt)
        if delay is None:
            raise error
        time.sleep(delay)
        attempt += 1


def generate_stream(
    prompt: Prompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.Client | None = None,
    **options: Unpack[RequestOptions],
) -> Stream:
    """Stream a generation: iterate the result for :class:`StreamChunk` values.

    ``prompt`` is a string or a list of messages; ``model`` is
    ``"provider/model"`` or a :class:`ModelName`. ``callback`` receives each
    chunk before it is yielded. Misconfiguration raises here, not at ``next()``.
    """
    request = prepare_request(prompt, options, callback=callback)
    reject_async_callback(request)
    check_sync_client(http_client)
    return Stream(StreamSession(request), sync_transport(http_client))


def generate(
    prompt: Prompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.Client | None = None,
    **options: Unpack[RequestOptions],
) -> GenerationResponse:
    """Generate a whole response (streamed under the hood, so ``timing`` is filled)."""
    with generate_stream(prompt, callback=callback, http_client=http_client, **options) as stream:
        return stream.until_done()


def complete_stream(
    prompt: CompletionPrompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.Client | None = None,
    **options: Unpack[CompletionOptions],
) -> Stream:
    """Stream a text completion (the ``/completions`` API, not chat): each
    :class:`StreamChunk` has a piece of text in ``content``.

    ``prompt`` is a string, or a list of strings for several prompts in one
    request (choice ``i * n + j`` is the ``j``-th completion of prompt ``i``).
    The endpoint's own parameters go by their names (``max_tokens``,
    ``suffix``, ``echo``, ``logprobs`` as a count, ``best_of``, ...); a
    provider without a text-completion API, or a chat-only parameter, raises
    here, not at ``next()``.
    """
    request = prepare_completion(prompt, options, callback=callback)
    reject_async_callback(request)
    check_sync_client(http_client)
    return Stream(StreamSession(request), sync_transport(http_client))


def complete(
    prompt: CompletionPrompt,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.Client | None = None,
    **options: Unpack[CompletionOptions],
) -> GenerationResponse:
    """A whole text completion (streamed under the hood, so ``timing`` is
    filled): the text is ``content``, one entry of ``choices`` per choice."""
    with complete_stream(prompt, callback=callback, http_client=http_client, **options) as stream:
        return stream.until_done()


def resume_stream(
    response_id: str,
    *,
    callback: Callable[[StreamChunk], object] | None = None,
    http_client: httpx.Client | None = None,
    **options: Unpack[ResumeOptions],
) -> Stream:
    """Stream a stored (background) OpenAI Responses response again, from the
    event after ``starting_after`` (a ``sequence_number``, as in each chunk's
    ``raw``) or from its start. ``model`` names the endpoint:
    ``"openai-responses"`` (the default) or ``"openai-responses/<model>"``.
    The chunks and the accumulated ``response`` cover only what this stream
    carries."""
    request = prepare_resume(response_id, options, callback=callback)
    reject_async_callback(request)
    check_sync_client(http_client)
    return Stream(StreamSession(request), sync_transport(http_client))
