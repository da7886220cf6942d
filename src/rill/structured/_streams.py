"""Structured streaming over the generation API: partial objects, completed
items and patches, sync and async. Each stream wraps a ``Stream`` (or
``AsyncStream``) and pumps its chunks into a ``StructuredSession``.

There is one update per network read that changed the document: chunks
that arrived together are parsed, and shown, together (a provider streaming
at its own pace sends one chunk per read, so that is an update per chunk).

Every yield of ``stream_object`` is the same partial object (an instance of
the model's partial twin), updated in place between yields, so an update
costs what it changed rather than the size of the document. To keep the
state of one update, copy it: ``partial.model_copy(deep=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack

from pydantic import BaseModel

from .._async import AsyncStream, agenerate_stream
from .._client import Stream, generate_stream
from .._messages import Message, MessageRole, Prompt, normalize_messages
from .._params import Mode
from .._request import EndpointOptions
from .._response import GenerationResponse
from ._partial import Progress, StructuredValidationError
from ._session import StructuredSession, check_schema, items_wrapper, structured_call

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from .._client_object import Client

__all__ = [
    "AsyncObjectStream",
    "ObjectStream",
    "StructuredOptions",
    "agenerate_object",
    "astream_items",
    "astream_object",
    "astream_patches",
    "generate_object",
    "stream_items",
    "stream_object",
    "stream_patches",
]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Y = TypeVar("Y")


class StructuredOptions(EndpointOptions, total=False):
    """The options of ``rill.generate_stream`` plus ``mode``: ``json_schema``,
    ``json``, ``tool`` or ``text`` (default: the provider's
    ``structured_mode``). ``model`` is required unless ``client=`` holds one."""

    model: str
    mode: Mode


class _Base(Generic[M]):
    __slots__ = ("__weakref__", "_session")

    _session: StructuredSession[M]

    @property
    def progress(self) -> Progress:
        """Which fields are complete, e.g. ``progress.completed / progress.total``."""
        return self._session.progress

    @property
    def completed(self) -> list[str]:
        """Dotted paths (``"address.city"``) completed by the latest update."""
        return self._session.completed

    @property
    def raw_text(self) -> str:
        """The JSON text received so far."""
        return self._session.tracker.raw_text

    def _final(self) -> M:
        """The validated object, once the updates have been read to their end."""
        if self._session.final is None:
            raise StructuredValidationError(
                "the stream was closed before the object was complete",
                raw_text=self.raw_text,
                partial=self._session.tracker.partial,
            )
        return self._session.final


class ObjectStream(_Base[M], Generic[M, Y]):
    """Iterate for updates (partial objects, items or patches); ``final`` is
    the validated object once the stream has ended; ``response`` the
    generation's accumulated response (usage, timing)."""

    __slots__ = ("_stream", "_updates")

    def __init__(
        self,
        stream: Stream,
        session: StructuredSession[M],
        updates: Callable[[StructuredSession[M]], list[Y]],
    ) -> None:
        self._stream = stream
        self._session = session
        self._updates = _drive(stream, session, updates)

    def __iter__(self) -> Generator[Y, None, None]:
        return self._updates

    def __next__(self) -> Y:
        return next(self._updates)

    def __enter__(self) -> ObjectStream[M, Y]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._updates.close()
        self._stream.close()

    @property
    def final(self) -> M:
        """The validated object: reads the rest of the stream if needed."""
        for _ in self._updates:
            pass
        return self._final()

    @property
    def response(self) -> GenerationResponse:
        return self._stream.response


class AsyncObjectStream(_Base[M], Generic[M, Y]):
    """Async twin of ``ObjectStream``; ``await stream.afinal()`` for the object."""

    __slots__ = ("_stream", "_updates")

    def __init__(
        self,
        stream: AsyncStream,
        session: StructuredSession[M],
        updates: Callable[[StructuredSession[M]], list[Y]],
    ) -> None:
        self._stream = stream
        self._session = session
        self._updates = _adrive(stream, session, updates)

    def __aiter__(self) -> AsyncGenerator[Y, None]:
        return self._updates

    async def __anext__(self) -> Y:
        return await self._updates.__anext__()

    async def __aenter__(self) -> AsyncObjectStream[M, Y]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._updates.aclose()
        await self._stream.aclose()

    async def afinal(self) -> M:
        """The validated object: reads the rest of the stream if needed."""
        async for _ in self._updates:
            pass
        return self._final()

    @property
    def response(self) -> GenerationResponse:
        return self._stream.response


def _drive(
    stream: Stream,
    session: StructuredSession[M],
    updates: Callable[[StructuredSession[M]], list[Y]],
) -> Generator[Y, None, None]:
    with stream:
        for chunk in stream:
            session.take(chunk)
            if chunk is stream.last_read[-1] and session.settle():
                yield from updates(session)
    session.flush()
    yield from _final_updates(session, updates)


async def _adrive(
    stream: AsyncStream,
    session: StructuredSession[M],
    updates: Callable[[StructuredSession[M]], list[Y]],
) -> AsyncGenerator[Y, None]:
    async with stream:
        async for chunk in stream:
            session.take(chunk)
            if chunk is stream.last_read[-1] and session.settle():
                for update in updates(session):
                    yield update
    session.flush()
    for update in _final_updates(session, updates):
        yield update


def _final_updates(
    session: StructuredSession[M], updates: Callable[[StructuredSession[M]], list[Y]]
) -> list[Y]:
    """What closing the document completed (a top-level number, the last
    closes), unless it changed nothing."""
    return updates(session) if session.tracker.last_ops else []


def _prepare(
    function: str,
    prompt: Prompt,
    schema: type[Any],
    options: StructuredOptions,
    client: Client | None,
    *,
    items: bool,
) -> tuple[Prompt, dict[str, Any], StructuredSession[Any]]:
    """What every structured function does before it streams, sync or async:
    check the schema (``function`` names the caller in the error), add the
    mode's options and instruction to the call, and make the session that
    will read the answer. With ``items``, ``schema`` is the item type: the
    model is asked for a wrapper object whose items are yielded."""
    item = None
    if items:
        item, schema = schema, items_wrapper(schema)
    else:
        check_schema(schema, function)
    prompt, opts, request = structured_call(prompt, schema, _options(options, client))
    session: StructuredSession[Any] = StructuredSession(
        schema, from_tool=request.from_tool, item=item, allow_prose=request.allow_prose
    )
    return prompt, opts, session


# --------------------------------------------------------------- what a yield is


def _partials(session: StructuredSession[M]) -> list[M]:
    return [session.partial]


def _patches(session: StructuredSession[M]) -> list[dict[str, Any]]:
    return session.patches()


def _items(session: StructuredSession[Any]) -> list[Any]:
    return session.new_items()


# ------------------------------------------------------------------ functions


def _options(options: Mapping[str, Any], client: Client | None) -> dict[str, Any]:
    """A call's options, with the client's default model when it names none."""
    out = dict(options)
    if client is not None and out.get("model") is None and client.model is not None:
        out["model"] = client.model
    return out


def _open(prompt: Prompt, http_client: Any, client: Client | None, opts: Any) -> Stream:
    """The generation under a structured stream: through ``client`` (its
    cache, limits, fallbacks, tracing) when one is given."""
    if client is not None:
        return client.generate_stream(prompt, http_client=http_client, **opts)
    return generate_stream(prompt, http_client=http_client, **opts)


def _aopen(prompt: Prompt, http_client: Any, client: Client | None, opts: Any) -> AsyncStream:
    if client is not None:
        return client.agenerate_stream(prompt, http_client=http_client, **opts)
    return agenerate_stream(prompt, http_client=http_client, **opts)


def stream_object(
    prompt: Prompt,
    schema: type[M],
    *,
    http_client: httpx.Client | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> ObjectStream[M, M]:
    """Stream ``schema`` as it fills in: each update is a partial object whose
    fields are None until they arrive, strings and lists grow, and nothing is
    shown before it can be right (a Literal only once complete, a number only
    once it cannot change). ``final`` is the object validated by ``schema``.

    Every update yields the same live object, updated in place; keep
    ``partial.model_copy(deep=True)`` to hold on to one state."""
    prompt, opts, session = _prepare("stream_object", prompt, schema, options, client, items=False)
    return ObjectStream(_open(prompt, http_client, client, opts), session, _partials)


def astream_object(
    prompt: Prompt,
    schema: type[M],
    *,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> AsyncObjectStream[M, M]:
    """Async twin of :func:`stream_object`."""
    prompt, opts, session = _prepare("astream_object", prompt, schema, options, client, items=False)
    return AsyncObjectStream(_aopen(prompt, http_client, client, opts), session, _partials)


def stream_items(
    prompt: Prompt,
    item: type[T],
    *,
    http_client: httpx.Client | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> ObjectStream[Any, T]:
    """Stream a list: each item is yielded once, when it is complete and
    valid. The model is asked for ``{"items": [...]}``; a bare top-level array
    in its answer works too."""
    prompt, opts, session = _prepare("stream_items", prompt, item, options, client, items=True)
    return ObjectStream(_open(prompt, http_client, client, opts), session, _items)


def astream_items(
    prompt: Prompt,
    item: type[T],
    *,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> AsyncObjectStream[Any, T]:
    """Async twin of :func:`stream_items`."""
    prompt, opts, session = _prepare("astream_items", prompt, item, options, client, items=True)
    return AsyncObjectStream(_aopen(prompt, http_client, client, opts), session, _items)


def stream_patches(
    prompt: Prompt,
    schema: type[M],
    *,
    http_client: httpx.Client | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> ObjectStream[M, dict[str, Any]]:
    """Stream ``schema`` as JSON-patch-like operations (``add``, and
    ``append`` for a growing string) that rebuild the object with
    ``rill.structured.apply_patches``, in O(size of the object) bytes."""
    prompt, opts, session = _prepare("stream_patches", prompt, schema, options, client, items=False)
    return ObjectStream(_open(prompt, http_client, client, opts), session, _patches)


def astream_patches(
    prompt: Prompt,
    schema: type[M],
    *,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> AsyncObjectStream[M, dict[str, Any]]:
    """Async twin of :func:`stream_patches`."""
    prompt, opts, session = _prepare(
        "astream_patches", prompt, schema, options, client, items=False
    )
    return AsyncObjectStream(_aopen(prompt, http_client, client, opts), session, _patches)


def generate_object(
    prompt: Prompt,
    schema: type[M],
    *,
    max_retries_on_invalid: int = 0,
    http_client: httpx.Client | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> M:
    """The whole object, validated by ``schema``. With
    ``max_retries_on_invalid=N``, an answer that does not validate is sent
    back with the validation error, up to N more times."""
    check_schema(schema, "generate_object")
    messages = list(normalize_messages(prompt))
    for attempt in range(max_retries_on_invalid + 1):
        stream = stream_object(messages, schema, http_client=http_client, client=client, **options)
        try:
            return stream.final
        except StructuredValidationError as exc:
            if attempt == max_retries_on_invalid:
                raise
            messages += _feedback(exc)
    raise AssertionError("unreachable")  # pragma: no cover


async def agenerate_object(
    prompt: Prompt,
    schema: type[M],
    *,
    max_retries_on_invalid: int = 0,
    http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
    client: Client | None = None,
    **options: Unpack[StructuredOptions],
) -> M:
    """Async twin of :func:`generate_object`."""
    check_schema(schema, "agenerate_object")
    messages = list(normalize_messages(prompt))
    for attempt in range(max_retries_on_invalid + 1):
        stream = astream_object(messages, schema, http_client=http_client, client=client, **options)
        try:
            return await stream.afinal()
        except StructuredValidationError as exc:
            if attempt == max_retries_on_invalid:
                raise
            messages += _feedback(exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _feedback(error: StructuredValidationError) -> list[Message]:
    """The failed answer and what was wrong with it, as the next two turns."""
    return [
        Message(MessageRole.ASSISTANT, error.raw_text),
        Message(
            MessageRole.USER,
            f"That answer is not valid: {error}\nReply with the corrected JSON only.",
        ),
    ]
