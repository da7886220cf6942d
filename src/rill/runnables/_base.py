"""``Runnable``: the one interface every step offers, and how a step runs.

A step implements either ``_invoke`` (it needs its whole input: a prompt, a
function) or ``_transform`` (it consumes its input as a stream: a parser, a
generator function), plus the async twins. Everything else is here, once:
``invoke`` / ``stream`` / ``batch`` and their async forms, ``astream_events``,
and the traced wrappers that report runs to the ``Tracer``.

A plain ``stream`` / ``astream`` without callbacks runs the steps' own
generators chained together, with no tracing at all. ``invoke`` and
``astream_events`` run the same generators inside the traced wrappers; the
events are queued by the tracer while a chunk travels through the chain and
handed out before the next one is pulled, so they come in the order the
steps produced them.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._errors import InvalidRequestError
from ._callbacks import Handlers
from ._config import Context, RunConfig, check_config
from ._events import EventFilter, Tracer, Version
from ._merge import Lazy, merge_values

if TYPE_CHECKING:
    from ._compose import RunnableSequence
    from ._wrappers import RunnableRetry, RunnableWithConfig, RunnableWithFallbacks


class _Kinds:
    """The composite runnables, registered by their modules when they load
    (they build on this one, so it cannot import them)."""

    sequence: Any = None
    parallel: Any = None
    function: Any = None
    configured: Any = None
    retry: Any = None
    fallbacks: Any = None


kinds = _Kinds()

__all__ = ["Runnable", "coerce"]

In = TypeVar("In")
Out = TypeVar("Out")


class Runnable(Generic[In, Out]):
    """A step of a chain: ``invoke``, ``stream``, ``batch`` and their async
    forms, ``astream_events``, ``|`` to compose.

    A step that cannot stream still offers ``stream``: it yields its one
    final value. ``run_type`` is the ``on_<type>_*`` of its events.
    """

    run_type: str = "chain"
    streams_input: bool = False
    """True when the step consumes its input chunk by chunk; False when it
    waits for the whole input (chunks merged with ``+``) before it runs."""

    name: str | None = None

    def get_name(self) -> str:
        return self.name or type(self).__name__

    # ------------------------------------------------ what a step implements

    def _invoke(self, input: In, ctx: Context) -> Out:
        raise NotImplementedError(
            f"{type(self).__name__} implements neither _invoke nor _transform"
        )

    async def _ainvoke(self, input: In, ctx: Context) -> Out:
        return self._invoke(input, ctx)

    def _transform(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        yield self._invoke(merge_values(list(inputs)), ctx)

    async def _atransform(self, inputs: AsyncIterator[In], ctx: Context) -> AsyncIterator[Out]:
        yield await self._ainvoke(merge_values([x async for x in inputs]), ctx)

    def _final(self, outputs: list[Out]) -> Any:
        """The run's output, from the chunks it yielded (merged with ``+``)."""
        return merge_values(outputs)

    def _pipe(
        self, inputs: Iterator[In], ctx: Context
    ) -> tuple[Iterator[Out], Callable[[], None]] | None:
        """For a step made of steps: the stream of its last step, to read
        without a frame of its own, and what to do once it ended."""
        return None

    def _apipe(
        self, inputs: AsyncIterator[In], ctx: Context
    ) -> tuple[AsyncIterator[Out], Callable[[], None]] | None:
        return None

    def _check_input(self, input: Any) -> None:
        """Raise at the call when ``input`` cannot be this step's input (a
        step sees its input only once the stream runs)."""

    def _root_config(self, cfg: RunConfig) -> RunConfig:
        """The config of a call made on this runnable (a ``with_config``
        wrapper adds its own)."""
        return cfg

    # ------------------------------------------------------- running a step

    def _run(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        if ctx.tracer is None:
            return self._transform(inputs, ctx)
        if self.streams_input:
            return self._traced_transform(inputs, ctx)
        return self._traced_whole(inputs, ctx)

    def _arun(self, inputs: AsyncIterator[In], ctx: Context) -> AsyncIterator[Out]:
        if ctx.tracer is None:
            return self._atransform(inputs, ctx)
        if self.streams_input:
            return self._atraced_transform(inputs, ctx)
        return self._atraced_whole(inputs, ctx)

    def _traced_whole(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        tracer = ctx.tracer
        assert tracer is not None
        value = merge_values(list(inputs))
        run = ctx.start(self.get_name(), self.run_type)
        tracer.start(run, {"input": value})
        try:
            out = self._invoke(value, ctx)
        except BaseException as exc:
            tracer.error(run, exc, value)
            raise
        tracer.end(run, out, value)
        yield out

    async def _atraced_whole(self, inputs: AsyncIterator[In], ctx: Context) -> AsyncIterator[Out]:
        tracer = ctx.tracer
        assert tracer is not None
        value = merge_values([x async for x in inputs])
        run = ctx.start(self.get_name(), self.run_type)
        tracer.start(run, {"input": value})
        try:
            out = await self._ainvoke(value, ctx)
        except BaseException as exc:
            tracer.error(run, exc, value)
            raise
        tracer.end(run, out, value)
        yield out

    def _traced_transform(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        # As LangChain does, the run starts once its first input chunk exists:
        # pulling it runs the steps upstream first.
        tracer = ctx.tracer
        assert tracer is not None
        seen: list[In] = []
        for first in inputs:
            seen.append(first)
            break
        run = ctx.start(self.get_name(), self.run_type)
        tracer.start(run, {"input": seen[0]} if run.root and seen else {})
        source = ctx.source
        # Fed by a step whose output is its input: no copy of the input is
        # kept, the chunks go straight through.
        tap = _tap(seen, inputs) if source is None else itertools.chain(seen, inputs)
        outs: list[Out] = []
        piped = self._pipe(tap, ctx)
        inner, after = piped if piped is not None else (self._transform(tap, ctx), _nothing)
        try:
            for out in inner:
                outs.append(out)
                tracer.stream(run, out)
                yield out
            after()
        except BaseException as exc:
            tracer.error(run, exc)
            raise
        finally:
            _close(inner)
            _close(tap)
            _close(inputs)
        final = run.output if run.has_output else self._final(outs)
        tracer.end(run, final, _input_of(source, seen))

    async def _atraced_transform(
        self, inputs: AsyncIterator[In], ctx: Context
    ) -> AsyncIterator[Out]:
        tracer = ctx.tracer
        assert tracer is not None
        seen: list[In] = []
        async for first in inputs:
            seen.append(first)
            break
        run = ctx.start(self.get_name(), self.run_type)
        tracer.start(run, {"input": seen[0]} if run.root and seen else {})
        source = ctx.source
        tap: AsyncIterator[In] = _atap(seen, inputs) if source is None else _Prepend(seen, inputs)
        outs: list[Out] = []
        piped = self._apipe(tap, ctx)
        inner, after = piped if piped is not None else (self._atransform(tap, ctx), _nothing)
        try:
            async for out in inner:
                outs.append(out)
                tracer.stream(run, out)
                yield out
            after()
        except BaseException as exc:
            tracer.error(run, exc)
            raise
        finally:
            await _aclose(inner)
            await _aclose(tap)
            await _aclose(inputs)
        final = run.output if run.has_output else self._final(outs)
        tracer.end(run, final, _input_of(source, seen))

    # ------------------------------------------------------------ public API

    def invoke(self, input: In, config: RunConfig | None = None) -> Out:
        """Run on one input and return the final output."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = _handlers(cfg, is_async=False)
        ctx = Context.root(Tracer(None, None, handlers), cfg)
        steps = self._run(iter((input,)), ctx)
        try:
            for _ in steps:
                pass
        finally:
            _close(steps)
        assert ctx.run is not None
        output: Out = ctx.run.output
        return output

    async def ainvoke(self, input: In, config: RunConfig | None = None) -> Out:
        """Async twin of :meth:`invoke`."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = _handlers(cfg, is_async=True)
        ctx = Context.root(Tracer(None, None, handlers), cfg)
        steps = self._arun(_aone(input), ctx)
        try:
            async for _ in steps:
                pass
        finally:
            await _aclose(steps)
            if handlers is not None:
                await handlers.aclose()
        assert ctx.run is not None
        output: Out = ctx.run.output
        return output

    def stream(self, input: In, config: RunConfig | None = None) -> Iterator[Out]:
        """Run on one input and yield output chunks as they come; a step
        that cannot stream yields its one final value."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = _handlers(cfg, is_async=False)
        tracer = Tracer(None, None, handlers) if handlers is not None else None
        return self._run(iter((input,)), Context.root(tracer, cfg))

    def astream(self, input: In, config: RunConfig | None = None) -> AsyncIterator[Out]:
        """Async twin of :meth:`stream`."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = _handlers(cfg, is_async=True)
        if handlers is None:
            return self._arun(_aone(input), Context.root(None, cfg))
        return _astream_with_handlers(self, input, cfg, handlers)

    def stream_events(
        self,
        input: In,
        config: RunConfig | None = None,
        *,
        version: Version = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Sync twin of :meth:`astream_events`, for scripts."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        event_filter = EventFilter(
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )
        tracer = Tracer(version, event_filter, _handlers(cfg, is_async=False))
        return _events(self, input, Context.root(tracer, cfg), tracer)

    def astream_events(
        self,
        input: In,
        config: RunConfig | None = None,
        *,
        version: Version = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every step's events while the chain runs: dicts with ``event``
        (``on_<type>_start|stream|end``, ``on_custom_event``), ``name``,
        ``run_id``, ``parent_ids`` (v2, root first), ``tags``, ``metadata``
        and ``data`` (``input`` / ``chunk`` / ``output``), in LangChain's
        ``astream_events`` schema, order and filter semantics. A failing
        step ends no run: the exception propagates from the iteration."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        event_filter = EventFilter(
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )
        tracer = Tracer(version, event_filter, _handlers(cfg, is_async=True))
        return _aevents(self, input, Context.root(tracer, cfg), tracer)

    def batch(
        self,
        inputs: Sequence[In],
        config: RunConfig | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
    ) -> list[Out | Exception]:
        """``invoke`` on each input, at most ``max_concurrency`` at a time (in
        worker threads; it works inside a running event loop). Results come
        in input order; with ``return_exceptions`` a failure is returned in
        its place instead of raised."""
        cfg, limit = _batch_config(self, config, max_concurrency, inputs)
        if not inputs:
            return []
        results: list[Out | Exception] = [None] * len(inputs)  # type: ignore[list-item]
        for index, result in self._batch_threads(inputs, cfg, limit, return_exceptions):
            results[index] = result
        return results

    def batch_as_completed(
        self,
        inputs: Sequence[In],
        config: RunConfig | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
    ) -> Iterator[tuple[int, Out | Exception]]:
        """Like :meth:`batch`, yielding ``(index, output)`` as each finishes."""
        cfg, limit = _batch_config(self, config, max_concurrency, inputs)
        return self._batch_threads(inputs, cfg, limit, return_exceptions)

    def _batch_threads(
        self, inputs: Sequence[In], cfg: RunConfig, limit: int | None, return_exceptions: bool
    ) -> Iterator[tuple[int, Out | Exception]]:
        if not inputs:
            return
        workers = min(limit or len(inputs), len(inputs), 64)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rill-batch") as pool:
            futures = {
                pool.submit(contextvars.copy_context().run, self.invoke, item, cfg): i
                for i, item in enumerate(inputs)
            }
            try:
                for future in as_completed(futures):
                    try:
                        result: Out | Exception = future.result()
                    except Exception as exc:
                        if not return_exceptions:
                            raise
                        result = exc
                    yield futures[future], result
            finally:
                for future in futures:
                    future.cancel()

    async def abatch(
        self,
        inputs: Sequence[In],
        config: RunConfig | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
    ) -> list[Out | Exception]:
        """Async twin of :meth:`batch` (tasks, not threads)."""
        import anyio

        cfg, limit = _batch_config(self, config, max_concurrency, inputs)
        results: list[Out | Exception] = [None] * len(inputs)  # type: ignore[list-item]
        if not inputs:
            return results
        limiter = anyio.CapacityLimiter(limit or len(inputs))
        failures: list[Exception] = []

        async def one(index: int, item: In) -> None:
            async with limiter:
                try:
                    results[index] = await self.ainvoke(item, cfg)
                except Exception as exc:
                    if not return_exceptions:
                        failures.append(exc)
                        group.cancel_scope.cancel()
                    results[index] = exc

        async with anyio.create_task_group() as group:
            for i, item in enumerate(inputs):
                group.start_soon(one, i, item)
        if failures:
            raise failures[0]
        return results

    def abatch_as_completed(
        self,
        inputs: Sequence[In],
        config: RunConfig | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
    ) -> AsyncIterator[tuple[int, Out | Exception]]:
        """Async twin of :meth:`batch_as_completed`. Leaving the loop early
        cancels the calls still running."""
        cfg, limit = _batch_config(self, config, max_concurrency, inputs)
        return self._abatch_as_completed(inputs, cfg, limit, return_exceptions)

    async def _abatch_as_completed(
        self, inputs: Sequence[In], cfg: RunConfig, limit: int | None, return_exceptions: bool
    ) -> AsyncIterator[tuple[int, Out | Exception]]:
        import anyio

        from ._tasks import spawn

        if not inputs:
            return
        limiter = anyio.CapacityLimiter(limit or len(inputs))
        send, receive = anyio.create_memory_object_stream[tuple[int, Any, bool]](len(inputs))

        async def one(index: int, item: In) -> None:
            async with limiter:
                try:
                    result: Any = await self.ainvoke(item, cfg)
                    failed = False
                except Exception as exc:
                    result, failed = exc, True
            # The consumer may have left the loop already.
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                send.send_nowait((index, result, failed))

        scopes = [spawn(one, i, item) for i, item in enumerate(inputs)]
        try:
            for _ in inputs:
                index, result, failed = await receive.receive()
                if failed and not return_exceptions:
                    raise result
                yield index, result
        finally:
            for scope in scopes:
                scope.cancel()
            send.close()
            receive.close()

    # ------------------------------------------------------------ composition

    def __or__(self, other: Any) -> RunnableSequence:
        return kinds.sequence(self, coerce(other))  # type: ignore[no-any-return]

    def __ror__(self, other: Any) -> RunnableSequence:
        return kinds.sequence(coerce(other), self)  # type: ignore[no-any-return]

    def pipe(self, *others: Any) -> RunnableSequence:
        """``self | others[0] | others[1] | ...``"""
        return kinds.sequence(self, *(coerce(o) for o in others))  # type: ignore[no-any-return]

    def with_config(
        self, config: RunConfig | None = None, **kwargs: Any
    ) -> RunnableWithConfig[In, Out]:
        """This runnable with tags, metadata, a run name or callbacks set for
        every call (``with_config(tags=["x"], run_name="summary")``)."""
        return kinds.configured(  # type: ignore[no-any-return]
            self, check_config({**(config or {}), **kwargs})
        )

    def with_retry(
        self,
        *,
        retry_if_exception_type: tuple[type[BaseException], ...] = (Exception,),
        stop_after_attempt: int = 3,
        wait_exponential_jitter: bool = True,
    ) -> RunnableRetry[In, Out]:
        """Retry a failed call (up to ``stop_after_attempt`` attempts in all).
        A stream is retried only while it has yielded nothing."""
        return kinds.retry(  # type: ignore[no-any-return]
            self,
            retry_if_exception_type=retry_if_exception_type,
            stop_after_attempt=stop_after_attempt,
            wait_exponential_jitter=wait_exponential_jitter,
        )

    def with_fallbacks(
        self,
        fallbacks: Sequence[Runnable[In, Out]],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
    ) -> RunnableWithFallbacks[In, Out]:
        """Try ``fallbacks`` in order when this runnable fails (a stream only
        while it has yielded nothing)."""
        return kinds.fallbacks(  # type: ignore[no-any-return]
            self, fallbacks, exceptions_to_handle=exceptions_to_handle
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ------------------------------------------------------------------ helpers


def coerce(thing: Any) -> Runnable[Any, Any]:
    """A runnable for a step written as a runnable, a dict of steps (run in
    parallel) or a function (sync, async, or a generator over its input)."""
    if isinstance(thing, Runnable):
        return thing
    if isinstance(thing, Mapping):
        return kinds.parallel(thing)  # type: ignore[no-any-return]
    if callable(thing):
        return kinds.function(thing)  # type: ignore[no-any-return]
    raise InvalidRequestError(
        "a chain step must be a Runnable, a dict of steps or a function, "
        f"not {type(thing).__name__}"
    )


def _nothing() -> None:
    pass


def _input_of(source: Context | None, seen: list[Any]) -> Any:
    """A run's whole input, for its end event: the output of the step that
    fed it, else the chunks it read, merged if the event is shown."""
    if source is not None and source.run is not None and source.run.has_output:
        return source.run.output
    return Lazy(seen)


class _Prepend:
    """The chunks in ``head``, then those of ``rest``: an async iterator
    that adds no frame per chunk of ``rest``."""

    __slots__ = ("head", "rest")

    def __init__(self, head: list[Any], rest: AsyncIterator[Any]) -> None:
        self.head = head
        self.rest = rest

    def __aiter__(self) -> _Prepend:
        return self

    def __anext__(self) -> Awaitable[Any]:
        if self.head:
            return _value(self.head.pop())
        return self.rest.__anext__()

    async def aclose(self) -> None:
        self.head = []


async def _value(value: Any) -> Any:
    return value


def _tap(seen: list[Any], rest: Iterator[Any]) -> Generator[Any, None, None]:
    yield from seen[:1]
    for item in rest:
        seen.append(item)
        yield item


async def _atap(seen: list[Any], rest: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    if seen:
        yield seen[0]
    async for item in rest:
        seen.append(item)
        yield item


async def _aone(value: Any) -> AsyncIterator[Any]:
    yield value


def _close(it: Iterable[Any]) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


async def _aclose(it: AsyncIterator[Any]) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()


def _handlers(cfg: RunConfig, *, is_async: bool) -> Handlers | None:
    callbacks = cfg.get("callbacks")
    if not callbacks:
        return None
    return Handlers(callbacks, is_async=is_async)


def _batch_config(
    runnable: Runnable[Any, Any],
    config: RunConfig | None,
    max_concurrency: int | None,
    inputs: Sequence[Any],
) -> tuple[RunConfig, int | None]:
    if isinstance(inputs, str | bytes) or not isinstance(inputs, Sequence):
        raise InvalidRequestError(f"batch takes a list of inputs, not {type(inputs).__name__}")
    cfg = check_config(config)  # invoke adds the runnable's own config
    if max_concurrency is not None:
        cfg = check_config({**cfg, "max_concurrency": max_concurrency})
    limit = cfg.pop("max_concurrency", None)
    return cfg, limit


def _rooted(runnable: Runnable[Any, Any]) -> bool:
    """Whether the event driver runs this root step's run itself (a step
    that streams and runs the standard way): then its chunks reach the
    driver with no frame of a traced wrapper between."""
    return runnable.streams_input and type(runnable)._run is Runnable._run


def _root_end(runnable: Runnable[Any, Any], tracer: Tracer, run: Any, outs: list[Any]) -> None:
    tracer.end(run, run.output if run.has_output else runnable._final(outs))


def _events(
    runnable: Runnable[Any, Any], input: Any, ctx: Context, tracer: Tracer
) -> Iterator[dict[str, Any]]:
    queue = tracer.events
    rooted = _rooted(runnable)
    if rooted:
        run = ctx.start(runnable.get_name(), runnable.run_type)
        tracer.start(run, {"input": input})
        piped = runnable._pipe(iter((input,)), ctx)
        steps, after = piped if piped else (runnable._transform(iter((input,)), ctx), _nothing)
    else:
        steps, after = runnable._run(iter((input,)), ctx), _nothing
    outs: list[Any] = []
    try:
        try:
            for out in steps:
                if rooted:
                    outs.append(out)
                    tracer.stream(run, out)
                while queue:
                    yield queue.popleft()
            after()
        except BaseException as exc:
            if rooted:
                tracer.error(run, exc)
            if not isinstance(exc, Exception):
                raise
            while queue:  # what happened before the failure, then the failure
                yield queue.popleft()
            raise
        if rooted:
            _root_end(runnable, tracer, run, outs)
        while queue:
            yield queue.popleft()
    finally:
        _close(steps)


async def _aevents(
    runnable: Runnable[Any, Any], input: Any, ctx: Context, tracer: Tracer
) -> AsyncIterator[dict[str, Any]]:
    queue = tracer.events
    rooted = _rooted(runnable)
    if rooted:
        run = ctx.start(runnable.get_name(), runnable.run_type)
        tracer.start(run, {"input": input})
        piped = runnable._apipe(_aone(input), ctx)
        steps, after = piped if piped else (runnable._atransform(_aone(input), ctx), _nothing)
    else:
        steps, after = runnable._arun(_aone(input), ctx), _nothing
    outs: list[Any] = []
    try:
        try:
            async for out in steps:
                if rooted:
                    outs.append(out)
                    tracer.stream(run, out)
                while queue:
                    yield queue.popleft()
            after()
        except BaseException as exc:
            if rooted:
                tracer.error(run, exc)
            if not isinstance(exc, Exception):
                raise
            while queue:
                yield queue.popleft()
            raise
        if rooted:
            _root_end(runnable, tracer, run, outs)
        while queue:
            yield queue.popleft()
    finally:
        await _aclose(steps)
        if tracer.handlers is not None:
            await tracer.handlers.aclose()


async def _astream_with_handlers(
    runnable: Runnable[Any, Any], input: Any, cfg: RunConfig, handlers: Handlers
) -> AsyncIterator[Any]:
    steps = runnable._arun(_aone(input), Context.root(Tracer(None, None, handlers), cfg))
    try:
        async for chunk in steps:
            yield chunk
    finally:
        await _aclose(steps)
        await handlers.aclose()
