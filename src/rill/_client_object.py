"""``Client``: what calls would otherwise repeat, and what they share.

One object serves sync and async calls (``generate`` / ``agenerate``, the
``a`` prefix as everywhere in rill) because what it holds must be shared by
both: a cache, rate limits that count every request whichever driver sends
it, one cost tracker. Two classes would need a third object to share them.
The object is immutable in its configuration; its shared state (limiters,
cost totals, the cache) is thread-safe. The module-level functions are what
a ``Client()`` with no options does: the same request preparation and
drivers, no hooks.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from ._async import AsyncStream
from ._cache import Recording, cache_key, lookup
from ._chunks import StreamChunk
from ._client import Stream
from ._completion import CompletionPrompt, prepare_completion
from ._cost import CostTracker, Price, PriceTable, default_prices
from ._errors import InvalidRequestError, RillError
from ._hooks import CallHooks
from ._messages import Prompt
from ._params import GenerationParams, Timeouts, validate_params
from ._ratelimit import RateLimit, RateLimiter
from ._request import EndpointOptions, PreparedRequest, prepare_request, reject_async_callback
from ._response import GenerationResponse
from ._session import StreamSession
from .providers import resolve_model
from .transports import check_async_client, check_sync_client, sync_transport

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from ._cache import Cache

__all__ = ["Client"]


class Client:
    """Defaults and shared state for calls.

    ``model`` is the default model; ``api_keys`` and ``base_urls`` map a
    provider name to its key and endpoint; ``fallbacks`` are models tried in
    order when a call fails before any output (after its retries);
    ``cache`` a ``MemoryCache``, ``SQLiteCache`` or your own ``Cache``;
    ``rate_limits`` maps a provider name to a ``RateLimit``; ``prices`` adds
    to or overrides rill's price table (``{"openai/my-ft": Price(...)}``);
    ``tracing`` emits OpenTelemetry spans (None: when ``opentelemetry`` is
    installed); ``callback`` is the default per-chunk callback;
    ``http_client`` (an ``httpx.Client``) and ``async_http_client`` (an
    ``httpx.AsyncClient`` or ``aiohttp.ClientSession``) are the HTTP clients
    calls use unless they pass their own (proxies, TLS). Generation
    parameters (``temperature=...``) are defaults for every call; a call's
    own arguments win.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        timeout: float | Timeouts | None = None,
        max_retries: int | None = None,
        fallbacks: Sequence[str] = (),
        cache: Cache | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        prices: Mapping[str, Price | Mapping[str, float]] | None = None,
        tracing: bool | None = None,
        callback: Callable[[StreamChunk], object] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        system: str | None = None,
        max_event_bytes: int | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
        **params: Unpack[GenerationParams],
    ) -> None:
        if isinstance(fallbacks, str):
            raise InvalidRequestError("fallbacks must be a list of models, not one string")
        for name in (*(api_keys or {}), *(base_urls or {}), *(rate_limits or {})):
            _check_provider(name)
        for name, limit in (rate_limits or {}).items():
            if not isinstance(limit, RateLimit):
                raise InvalidRequestError(f"rate_limits[{name!r}] must be a rill.RateLimit")
        if callback is not None and not callable(callback):
            raise InvalidRequestError("callback must be callable")
        if tracing:
            from ._tracing import tracing_available

            if not tracing_available():
                raise InvalidRequestError(
                    "tracing=True needs OpenTelemetry: pip install 'rill[otel]'"
                )
        Timeouts.of(timeout)
        check_sync_client(http_client)
        check_async_client(async_http_client)
        self.http_client = http_client
        self.async_http_client = async_http_client
        if max_retries is not None and (
            not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0
        ):
            raise InvalidRequestError(
                f"max_retries must be a non-negative int, not {max_retries!r}"
            )
        validate_params(params)
        if model is not None:
            resolve_model(model)
        self.model = model
        self._api_keys = _Keys(api_keys or {})
        self.base_urls = dict(base_urls or {})
        self.fallbacks = tuple(str(m) for m in fallbacks)
        for fallback in self.fallbacks:
            resolve_model(fallback)
        self.cache = cache
        self.rate_limits = dict(rate_limits or {})
        self.callback = callback
        self.costs = CostTracker()
        self.prices: PriceTable = (
            default_prices().with_overrides(prices) if prices else default_prices()
        )
        self._tracing = tracing
        defaults: dict[str, Any] = {
            "timeout": timeout,
            "max_retries": max_retries,
            "max_event_bytes": max_event_bytes,
            "extra_headers": extra_headers,
            "system": system,
        }
        self._options = {k: v for k, v in defaults.items() if v is not None}
        self._params: dict[str, Any] = dict(params)
        self._limiters: dict[tuple[str, str | None], RateLimiter] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------- streaming

    def generate_stream(
        self,
        prompt: Prompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.Client | None = None,
        **options: Unpack[CallOptions],
    ) -> Stream:
        """Like :func:`rill.generate_stream`, with this client's defaults,
        fallbacks, cache, rate limits, cost tracking and tracing."""
        return self._stream(self._session(prompt, options, callback), http_client)

    def generate(
        self,
        prompt: Prompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.Client | None = None,
        **options: Unpack[CallOptions],
    ) -> GenerationResponse:
        """Like :func:`rill.generate`, through this client."""
        with self.generate_stream(
            prompt, callback=callback, http_client=http_client, **options
        ) as stream:
            return stream.until_done()

    def agenerate_stream(
        self,
        prompt: Prompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
        **options: Unpack[CallOptions],
    ) -> AsyncStream:
        """Async twin of :meth:`generate_stream`."""
        return self._astream(self._session(prompt, options, callback), http_client)

    async def agenerate(
        self,
        prompt: Prompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
        **options: Unpack[CallOptions],
    ) -> GenerationResponse:
        """Async twin of :meth:`generate`."""
        async with self.agenerate_stream(
            prompt, callback=callback, http_client=http_client, **options
        ) as stream:
            return await stream.auntil_done()

    # ------------------------------------------------------ text completions

    def complete_stream(
        self,
        prompt: CompletionPrompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.Client | None = None,
        **options: Any,
    ) -> Stream:
        """Like :func:`rill.complete_stream`, with this client's defaults,
        fallbacks, cache, rate limits, cost tracking and tracing."""
        session = self._session(prompt, options, callback, prepare_completion)
        return self._stream(session, http_client)

    def complete(
        self,
        prompt: CompletionPrompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.Client | None = None,
        **options: Any,
    ) -> GenerationResponse:
        """Like :func:`rill.complete`, through this client."""
        with self.complete_stream(
            prompt, callback=callback, http_client=http_client, **options
        ) as stream:
            return stream.until_done()

    def acomplete_stream(
        self,
        prompt: CompletionPrompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
        **options: Any,
    ) -> AsyncStream:
        """Async twin of :meth:`complete_stream`."""
        session = self._session(prompt, options, callback, prepare_completion)
        return self._astream(session, http_client)

    async def acomplete(
        self,
        prompt: CompletionPrompt,
        *,
        callback: Callable[[StreamChunk], object] | None = None,
        http_client: httpx.AsyncClient | aiohttp.ClientSession | None = None,
        **options: Any,
    ) -> GenerationResponse:
        """Async twin of :meth:`complete`."""
        async with self.acomplete_stream(
            prompt, callback=callback, http_client=http_client, **options
        ) as stream:
            return await stream.auntil_done()

    def _stream(
        self, prepared: tuple[StreamSession, Recording | None, bool], http_client: Any
    ) -> Stream:
        session, recording, paced = prepared
        reject_async_callback(session.request)
        check_sync_client(http_client)
        if recording is not None:
            from .transports._replay import ReplayTransport

            return Stream(session, ReplayTransport(recording, paced=paced))
        return Stream(
            session, sync_transport(self.http_client if http_client is None else http_client)
        )

    def _astream(
        self, prepared: tuple[StreamSession, Recording | None, bool], http_client: Any
    ) -> AsyncStream:
        session, recording, paced = prepared
        check_async_client(http_client)
        if recording is not None:
            from .transports._replay import AsyncReplayTransport

            return AsyncStream(session, AsyncReplayTransport(recording, paced=paced))
        return AsyncStream(session, self.async_http_client if http_client is None else http_client)

    # ----------------------------------------------------------------- batch

    @overload
    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        *,
        max_concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
        progress: bool | None = ...,
        **options: Unpack[CallOptions],
    ) -> list[GenerationResponse]: ...

    @overload
    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        *,
        max_concurrency: int = ...,
        return_exceptions: Literal[True],
        progress: bool | None = ...,
        **options: Unpack[CallOptions],
    ) -> list[GenerationResponse | RillError]: ...

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        *,
        max_concurrency: int = 8,
        return_exceptions: bool = False,
        progress: bool | None = None,
        **options: Unpack[CallOptions],
    ) -> list[GenerationResponse] | list[GenerationResponse | RillError]:
        """Generate a response for each prompt (a string or a message list),
        ``max_concurrency`` at a time, in threads (so it works inside a
        running event loop, as in a notebook). Results are in input order.
        With ``return_exceptions=True`` a failed prompt's item is its error
        instead of the batch raising it. ``progress`` shows a bar on a
        terminal (None: when stderr is one)."""
        from ._batch import run_batch

        return run_batch(self, prompts, options, max_concurrency, return_exceptions, progress)

    @overload
    async def agenerate_batch(
        self,
        prompts: Sequence[Prompt],
        *,
        max_concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
        progress: bool | None = ...,
        **options: Unpack[CallOptions],
    ) -> list[GenerationResponse]: ...

    @overload
    async def agenerate_batch(
        self,
        prompts: Sequence[Prompt],
        *,
        max_concurrency: int = ...,
        return_exceptions: Literal[True],
        progress: bool | None = ...,
        **options: Unpack[CallOptions],
    ) -> list[GenerationResponse | RillError]: ...

    async def agenerate_batch(
        self,
        prompts: Sequence[Prompt],
        *,
        max_concurrency: int = 8,
        return_exceptions: bool = False,
        progress: bool | None = None,
        **options: Unpack[CallOptions],
    ) -> list[GenerationResponse] | list[GenerationResponse | RillError]:
        """Async twin of :meth:`generate_batch`: tasks on the running loop."""
        from ._batch import arun_batch

        return await arun_batch(
            self, prompts, options, max_concurrency, return_exceptions, progress
        )

    # ------------------------------------------------------------- internals

    def _prepare(
        self,
        prompt: Any,
        options: Mapping[str, Any],
        callback: Callable[[StreamChunk], object] | None,
        prepare: _Prepare = prepare_request,
    ) -> tuple[PreparedRequest, list[PreparedRequest], bool]:
        """The call's request, its fallbacks' (keys and base URLs of their
        own providers) and whether it may use the cache. Raises on any
        misconfiguration, before I/O."""
        options = dict(options)
        fallbacks = options.pop("fallbacks", None)
        fallbacks = self.fallbacks if fallbacks is None else tuple(str(m) for m in fallbacks)
        use_cache = options.pop("cache", True)
        if not isinstance(use_cache, bool):
            raise InvalidRequestError(f"cache= is True or False for a call, not {use_cache!r}")
        if callback is None:
            callback = self.callback
        merged = {**self._params, **self._options, **options}
        model = merged.get("model") or self.model
        if model is None:
            raise InvalidRequestError("model= is required (or Client(model=...))")
        merged["model"] = model
        primary = prepare(prompt, self._configured(merged, model), callback=callback)
        # A call's own api_key and base_url are for its model's provider only.
        others = {k: v for k, v in merged.items() if k not in ("api_key", "base_url")}
        backups = [
            prepare(prompt, self._configured({**others, "model": m}, m), callback=callback)
            for m in fallbacks
        ]
        return primary, backups, use_cache

    def _session(
        self,
        prompt: Any,
        options: Mapping[str, Any],
        callback: Callable[[StreamChunk], object] | None,
        prepare: _Prepare = prepare_request,
    ) -> tuple[StreamSession, Recording | None, bool]:
        """The call's session (with its fallbacks and hooks), the cache's
        recording when the call is a hit, and whether to replay it paced.
        ``prepare`` builds a chat request or a text completion."""
        primary, backups, use_cache = self._prepare(prompt, options, callback, prepare)
        recording, paced = None, False
        cache = self.cache if use_cache else None
        if cache is not None:
            recording = lookup(cache, cache_key(primary))
            paced = bool(getattr(cache, "paced", False))
        span = None
        if self._tracing or (self._tracing is None and _otel()):
            from ._tracing import CallSpan

            span = CallSpan()
        replay = recording is not None
        hooks = CallHooks(self, replay=replay, record=cache is not None and not replay, span=span)
        session = StreamSession(primary, fallbacks=() if replay else backups, hooks=hooks)
        return session, recording, paced

    def _configured(self, options: dict[str, Any], model: str) -> dict[str, Any]:
        """``options`` with this client's key and base URL for ``model``'s provider."""
        provider, _ = resolve_model(model)
        out = dict(options)
        if out.get("api_key") is None and provider.name in self._api_keys:
            out["api_key"] = self._api_keys[provider.name]
        if out.get("base_url") is None and provider.name in self.base_urls:
            out["base_url"] = self.base_urls[provider.name]
        return out

    def _limiter_for(self, request: PreparedRequest) -> RateLimiter | None:
        limit = self.rate_limits.get(request.provider.name)
        if limit is None:
            return None
        key: str | None = None
        if limit.per_key:
            from ._redact import secrets_of

            secrets = "\0".join(sorted(secrets_of(request.http.headers)))
            key = hashlib.sha256(secrets.encode()).hexdigest()
        with self._lock:
            limiter = self._limiters.get((request.provider.name, key))
            if limiter is None:
                limiter = self._limiters[(request.provider.name, key)] = RateLimiter(limit)
            return limiter

    def __repr__(self) -> str:
        parts = [f"model={self.model!r}"] if self.model else []
        if self.fallbacks:
            parts.append(f"fallbacks={list(self.fallbacks)!r}")
        if self.cache is not None:
            parts.append(f"cache={self.cache!r}")
        if self.rate_limits:
            parts.append(f"rate_limits={sorted(self.rate_limits)!r}")
        return f"<rill.Client {' '.join(parts)}>"


_Prepare = Callable[..., PreparedRequest]


class CallOptions(EndpointOptions, total=False):
    """The keyword arguments of ``rill.generate_stream`` (``model`` may
    come from ``Client(model=...)``) plus ``fallbacks`` (this call's,
    instead of the client's) and ``cache`` (False: bypass the cache)."""

    model: str
    fallbacks: Sequence[str]
    cache: bool


class _Keys(dict[str, str]):
    """API keys by provider: a dict whose repr names the providers only, so
    no traceback with locals or debugger view shows a key."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: '[REDACTED]'" for k in self) + "}"


@functools.cache
def _otel() -> bool:
    from ._tracing import tracing_available

    return tracing_available()


def _check_provider(name: str) -> None:
    from .providers import get_provider

    if not isinstance(name, str):
        raise InvalidRequestError(f"provider names are strings, not {name!r}")
    get_provider(name)
