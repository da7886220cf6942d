"""``Runnable``: the one interface every step offers, and how a step runs.

A step implements either ``_invoke`` (it needs its whole input: a prompt, a
function) or ``_transform`` (it consumes its input as a stream: a parser, a
generator function), plus the async twins, and sets ``streams_input`` to
say which. Everything else is written once: the public methods here (with
``_batch`` for many inputs and ``_drive`` for event streams), and the traced
wrappers that report runs to the ``Tracer``.

A plain ``stream`` / ``astream`` without callbacks runs the steps' own
generators chained together, with no tracing at all. ``invoke`` and
``astream_events`` run the same generators inside the traced wrappers; the
events are queued by the tracer while a chunk travels through the chain and
handed out before the next one is pulled, so they come in the order the
steps produced them.
"""

from __future__ import annotations

import itertools
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .._errors import InvalidRequestError
from ._batch import abatch, abatch_as_completed, batch_config, batch_threads
from ._config import Context, RunConfig, check_config
from ._drive import aevents, astream_with_handlers, events, handlers_of
from ._events import EventFilter, Tracer, Version
from ._iterators import Prepend, aclose, aone, atap, close, nothing, tap
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

    map_chunk: Callable[[Any], Any] | None = None
    """For a step whose output is one value per input chunk (a text parser):
    the function from one to the other, applied without a frame per chunk."""

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

    def runs_standard_way(self) -> bool:
        """Whether this step streams and runs through ``Runnable._run``
        (so a driver may run its root run itself)."""
        return self.streams_input and type(self)._run is Runnable._run

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
        reading = tap(seen, inputs) if source is None else itertools.chain(seen, inputs)
        outs: list[Out] = []
        each = self.map_chunk
        piped = self._pipe(reading, ctx)
        inner: Iterator[Any]
        if piped is not None:
            inner, after = piped
        else:
            inner = map(each, reading) if each is not None else self._transform(reading, ctx)
            after = nothing
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
            close(inner)
            close(reading)
            close(inputs)
        final = run.output if run.has_output else self._final(outs)
        tracer.end(run, final, input_of(source, seen))

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
        reading: AsyncIterator[In] = atap(seen, inputs) if source is None else Prepend(seen, inputs)
        outs: list[Out] = []
        each = self.map_chunk
        piped = self._apipe(reading, ctx)
        inner: AsyncIterator[Any]
        if piped is not None:
            inner, after = piped
        else:
            inner = cast(
                "AsyncIterator[Any]",
                reading if each is not None else self._atransform(reading, ctx),
            )
            after = nothing
        try:
            if each is not None:  # one output per input chunk: no inner frame
                async for chunk in inner:
                    mapped: Out = each(chunk)
                    outs.append(mapped)
                    tracer.stream(run, mapped)
                    yield mapped
            else:
                async for out in inner:
                    outs.append(out)
                    tracer.stream(run, out)
                    yield out
            after()
        except BaseException as exc:
            tracer.error(run, exc)
            raise
        finally:
            await aclose(inner)
            await aclose(reading)
            await aclose(inputs)
        final = run.output if run.has_output else self._final(outs)
        tracer.end(run, final, input_of(source, seen))

    # ------------------------------------------------------------ public API

    def invoke(self, input: In, config: RunConfig | None = None) -> Out:
        """Run on one input and return the final output."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = handlers_of(cfg, is_async=False)
        ctx = Context.root(Tracer(None, None, handlers), cfg)
        steps = self._run(iter((input,)), ctx)
        try:
            for _ in steps:
                pass
        finally:
            close(steps)
        assert ctx.run is not None
        output: Out = ctx.run.output
        return output

    async def ainvoke(self, input: In, config: RunConfig | None = None) -> Out:
        """Async twin of :meth:`invoke`."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = handlers_of(cfg, is_async=True)
        ctx = Context.root(Tracer(None, None, handlers), cfg)
        steps = self._arun(aone(input), ctx)
        try:
            async for _ in steps:
                pass
        finally:
            await aclose(steps)
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
        handlers = handlers_of(cfg, is_async=False)
        tracer = Tracer(None, None, handlers) if handlers is not None else None
        return self._run(iter((input,)), Context.root(tracer, cfg))

    def astream(self, input: In, config: RunConfig | None = None) -> AsyncIterator[Out]:
        """Async twin of :meth:`stream`."""
        cfg = self._root_config(check_config(config))
        self._check_input(input)
        handlers = handlers_of(cfg, is_async=True)
        if handlers is None:
            return self._arun(aone(input), Context.root(None, cfg))
        return astream_with_handlers(self, input, cfg, handlers)

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
        tracer = Tracer(version, event_filter, handlers_of(cfg, is_async=False))
        return events(self, input, Context.root(tracer, cfg), tracer)

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
        tracer = Tracer(version, event_filter, handlers_of(cfg, is_async=True))
        return aevents(self, input, Context.root(tracer, cfg), tracer)

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
        cfg, limit = batch_config(self, config, max_concurrency, inputs)
        if not inputs:
            return []
        results: list[Out | Exception] = [None] * len(inputs)  # type: ignore[list-item]
        for index, result in batch_threads(self, inputs, cfg, limit, return_exceptions):
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
        cfg, limit = batch_config(self, config, max_concurrency, inputs)
        return batch_threads(self, inputs, cfg, limit, return_exceptions)

    async def abatch(
        self,
        inputs: Sequence[In],
        config: RunConfig | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
    ) -> list[Out | Exception]:
        """Async twin of :meth:`batch` (tasks, not threads)."""
        cfg, limit = batch_config(self, config, max_concurrency, inputs)
        return await abatch(self, inputs, cfg, limit, return_exceptions)

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
        cfg, limit = batch_config(self, config, max_concurrency, inputs)
        return abatch_as_completed(self, inputs, cfg, limit, return_exceptions)

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
        fallbacks: Sequence[Runnable[In, Out] | Callable[..., Any]],
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


def input_of(source: Context | None, seen: list[Any]) -> Any:
    """A run's whole input, for its end event: the output of the step that
    fed it, else the chunks it read, merged if the event is shown."""
    if source is not None and source.run is not None and source.run.has_output:
        return source.run.output
    return Lazy(seen)
