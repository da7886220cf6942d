"""The drivers of a top-level call's event stream: run the chain, hand
out the events the tracer queued between chunks, and close everything when
the consumer stops. The root run of a step that streams is run here
directly, so its chunks reach the consumer through no extra frame."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ._callbacks import Handlers
from ._config import Context, RunConfig
from ._events import Tracer
from ._iterators import aclose, aone, close, nothing

if TYPE_CHECKING:
    from ._base import Runnable

__all__ = ["aevents", "astream_with_handlers", "events", "handlers_of"]


def handlers_of(cfg: RunConfig, *, is_async: bool) -> Handlers | None:
    callbacks = cfg.get("callbacks")
    if not callbacks:
        return None
    return Handlers(callbacks, is_async=is_async)


def _rooted(runnable: Runnable[Any, Any]) -> bool:
    """Whether the event driver runs this root step's run itself (a step
    that streams and runs the standard way): then its chunks reach the
    driver with no frame of a traced wrapper between."""
    return runnable.runs_standard_way()


def _root_end(runnable: Runnable[Any, Any], tracer: Tracer, run: Any, outs: list[Any]) -> None:
    tracer.end(run, run.output if run.has_output else runnable._final(outs))


def events(
    runnable: Runnable[Any, Any], input: Any, ctx: Context, tracer: Tracer
) -> Iterator[dict[str, Any]]:
    queue = tracer.events
    rooted = _rooted(runnable)
    if rooted:
        run = ctx.start(runnable.get_name(), runnable.run_type)
        tracer.start(run, {"input": input})
        piped = runnable._pipe(iter((input,)), ctx)
        steps, after = piped if piped else (runnable._transform(iter((input,)), ctx), nothing)
    else:
        steps, after = runnable._run(iter((input,)), ctx), nothing
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
        close(steps)


async def aevents(
    runnable: Runnable[Any, Any], input: Any, ctx: Context, tracer: Tracer
) -> AsyncIterator[dict[str, Any]]:
    queue = tracer.events
    rooted = _rooted(runnable)
    if rooted:
        run = ctx.start(runnable.get_name(), runnable.run_type)
        tracer.start(run, {"input": input})
        piped = runnable._apipe(aone(input), ctx)
        steps, after = piped if piped else (runnable._atransform(aone(input), ctx), nothing)
    else:
        steps, after = runnable._arun(aone(input), ctx), nothing
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
        await aclose(steps)
        if tracer.handlers is not None:
            await tracer.handlers.aclose()


async def astream_with_handlers(
    runnable: Runnable[Any, Any], input: Any, cfg: RunConfig, handlers: Handlers
) -> AsyncIterator[Any]:
    steps = runnable._arun(aone(input), Context.root(Tracer(None, None, handlers), cfg))
    try:
        async for chunk in steps:
            yield chunk
    finally:
        await aclose(steps)
        await handlers.aclose()
