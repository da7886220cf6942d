"""Composition: a sequence of steps, parallel branches, and functions as steps.

A sequence chains its steps' generators, so a chunk travels through every
step that can take it before the next one is read. Parallel branches each
get the whole input stream (teed); their outputs come as one-key dicts
(``{"branch": chunk}``) and their final output is the dict of every
branch's final output. Async, each branch runs in a task of its own; sync,
the branches are read in turn (no threads).
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from .._errors import InvalidRequestError
from ._base import Runnable, coerce, kinds
from ._config import Context, reset_current, set_current
from ._iterators import aclose, close
from ._merge import merge_values
from ._tasks import spawn

__all__ = ["RunnableLambda", "RunnableParallel", "RunnableSequence"]


class RunnableSequence(Runnable[Any, Any]):
    """Steps run one after another, each fed the previous one's output
    (``a | b | c``). It streams: chunks flow through as they come."""

    streams_input = True

    def __init__(self, *steps: Any, name: str | None = None) -> None:
        flat: list[Runnable[Any, Any]] = []
        for step in steps:
            runnable = coerce(step)
            if type(runnable) is RunnableSequence and runnable.name is None:
                flat.extend(runnable.steps)
            else:
                flat.append(runnable)
        if len(flat) < 2:
            raise InvalidRequestError("a sequence needs at least two steps")
        self.steps: tuple[Runnable[Any, Any], ...] = tuple(flat)
        self.name = name

    def _check_input(self, input: Any) -> None:
        self.steps[0]._check_input(input)

    @property
    def first(self) -> Runnable[Any, Any]:
        return self.steps[0]

    @property
    def last(self) -> Runnable[Any, Any]:
        return self.steps[-1]

    def _pipe(
        self, inputs: Iterator[Any], ctx: Context
    ) -> tuple[Iterator[Any], Callable[[], None]]:
        stream: Iterator[Any] = inputs
        contexts: list[Context] = []
        for i, step in enumerate(self.steps, 1):
            child = ctx.child(f"seq:step:{i}", contexts[-1] if contexts else ctx.source)
            contexts.append(child)
            stream = step._run(stream, child)
        return stream, lambda: _take_output(ctx, contexts[-1])

    def _apipe(
        self, inputs: AsyncIterator[Any], ctx: Context
    ) -> tuple[AsyncIterator[Any], Callable[[], None]]:
        stream: AsyncIterator[Any] = inputs
        contexts: list[Context] = []
        for i, step in enumerate(self.steps, 1):
            child = ctx.child(f"seq:step:{i}", contexts[-1] if contexts else ctx.source)
            contexts.append(child)
            stream = step._arun(stream, child)
        return stream, lambda: _take_output(ctx, contexts[-1])

    def _transform(self, inputs: Iterator[Any], ctx: Context) -> Iterator[Any]:
        # Untraced, the chained steps are the stream: no frame of our own.
        return self._pipe(inputs, ctx)[0]

    def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        return self._apipe(inputs, ctx)[0]

    def __repr__(self) -> str:
        return " | ".join(repr(s) for s in self.steps)


def _take_output(ctx: Context, last: Context) -> None:
    # The sequence's output is its last step's output (a chat model's whole
    # response, a parser's final object), not its chunks added up.
    if ctx.run is not None and last.run is not None and last.run.has_output:
        ctx.run.output = last.run.output


class RunnableParallel(Runnable[Any, dict[str, Any]]):
    """Branches that all get the same input; the output is a dict of their
    outputs. Written as a dict in a chain: ``chat | {"text": TextParser(),
    "length": count}``."""

    streams_input = True

    def __init__(self, steps: Mapping[str, Any] | None = None, **more: Any) -> None:
        branches = {**(steps or {}), **more}
        if not branches:
            raise InvalidRequestError("a parallel step needs at least one branch")
        for key in branches:
            if not isinstance(key, str):
                raise InvalidRequestError(f"parallel branch names must be strings, not {key!r}")
        self.steps: dict[str, Runnable[Any, Any]] = {k: coerce(v) for k, v in branches.items()}

    def get_name(self) -> str:
        return self.name or f"RunnableParallel<{','.join(self.steps)}>"

    def _check_input(self, input: Any) -> None:
        for step in self.steps.values():
            step._check_input(input)

    def _transform(self, inputs: Iterator[Any], ctx: Context) -> Iterator[dict[str, Any]]:
        copies = itertools.tee(inputs, len(self.steps))
        contexts = {key: ctx.child(f"map:key:{key}", ctx.source) for key in self.steps}
        active = [
            (key, step._run(copy, contexts[key]))
            for (key, step), copy in zip(self.steps.items(), copies, strict=True)
        ]
        try:
            while active:
                for entry in tuple(active):
                    key, stream = entry
                    try:
                        chunk = next(stream)
                    except StopIteration:
                        active.remove(entry)
                        continue
                    yield {key: chunk}
        finally:
            for _, stream in active:
                close(stream)
            close(inputs)
        _take_outputs(ctx, contexts)

    async def _atransform(
        self, inputs: AsyncIterator[Any], ctx: Context
    ) -> AsyncIterator[dict[str, Any]]:
        # Each branch runs in a task of its own, so two models in two
        # branches stream at the same time; chunks come as they are produced.
        import anyio

        copies = _atee(inputs, len(self.steps))
        contexts = {key: ctx.child(f"map:key:{key}", ctx.source) for key in self.steps}
        send, receive = anyio.create_memory_object_stream[tuple[str, Any, Exception | None]](
            math.inf
        )
        finished = [anyio.Event() for _ in self.steps]

        async def branch(key: str, stream: AsyncIterator[Any], done: Any) -> None:
            try:
                async for chunk in stream:
                    send.send_nowait((key, chunk, None))
                send.send_nowait((key, _END, None))
            except Exception as exc:
                send.send_nowait((key, None, exc))
            finally:
                with anyio.CancelScope(shield=True):
                    await aclose(stream)
                done.set()

        scopes = [
            spawn(branch, key, step._arun(copy, contexts[key]), done)
            for (key, step), copy, done in zip(self.steps.items(), copies, finished, strict=True)
        ]
        try:
            running = len(scopes)
            while running:
                key, chunk, error = await receive.receive()
                if error is not None:
                    raise error
                if chunk is _END:
                    running -= 1
                    continue
                yield {key: chunk}
        finally:
            for scope in scopes:
                scope.cancel()
            with anyio.CancelScope(shield=True):
                for done in finished:
                    await done.wait()  # each branch closed what it opened
                await aclose(inputs)
            send.close()
            receive.close()
        _take_outputs(ctx, contexts)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.steps.items()) + "}"


def _take_outputs(ctx: Context, contexts: dict[str, Context]) -> None:
    if ctx.run is not None:
        ctx.run.output = {
            key: c.run.output if c.run is not None and c.run.has_output else None
            for key, c in contexts.items()
        }


_END = object()


def _atee(source: AsyncIterator[Any], n: int) -> list[AsyncIterator[Any]]:
    """``itertools.tee`` for an async iterator read from several tasks: each
    copy sees every item; one copy at a time reads the source."""
    import anyio

    buffers: list[deque[Any]] = [deque() for _ in range(n)]
    lock = anyio.Lock()
    done = [False]

    async def copy(mine: deque[Any]) -> AsyncIterator[Any]:
        while True:
            if mine:
                yield mine.popleft()
                continue
            if done[0]:
                return
            async with lock:
                if mine or done[0]:
                    continue
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    done[0] = True
                    continue
                for buffer in buffers:
                    buffer.append(item)

    return [copy(buffer) for buffer in buffers]


class RunnableLambda(Runnable[Any, Any]):
    """A function as a step. A plain or ``async`` function gets the whole
    input (its chunks merged) and returns the output. A generator function
    (or async generator function) gets an iterator over the input chunks and
    yields output chunks: it transforms the stream as it comes. Inside it,
    ``rill.dispatch_event`` emits custom events."""

    streams_input = True

    def __init__(self, func: Callable[..., Any], name: str | None = None) -> None:
        if not callable(func):
            raise InvalidRequestError(f"RunnableLambda takes a function, not {func!r}")
        self.func = func
        self.is_async_gen = inspect.isasyncgenfunction(func)
        self.is_gen = inspect.isgeneratorfunction(func)
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004
        )
        own = getattr(func, "__name__", None)
        self.name = name or (own if own and own != "<lambda>" else "RunnableLambda")

    def _transform(self, inputs: Iterator[Any], ctx: Context) -> Iterator[Any]:
        if self.is_async or self.is_async_gen:
            raise InvalidRequestError(
                f"{self.name} is an async function; run the chain with ainvoke / astream / "
                "astream_events / abatch"
            )
        if self.is_gen:
            outputs = self.func(inputs)
            try:
                while True:
                    token = set_current(ctx.tracer, ctx.run)
                    try:
                        chunk = next(outputs)
                    except StopIteration:
                        return
                    finally:
                        reset_current(token)
                    yield chunk
            finally:
                outputs.close()
        value = merge_values(list(inputs))
        token = set_current(ctx.tracer, ctx.run)
        try:
            result = self.func(value)
        finally:
            reset_current(token)
        yield result

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        if self.is_async_gen:
            outputs = self.func(inputs)
            try:
                while True:
                    token = set_current(ctx.tracer, ctx.run)
                    try:
                        chunk = await outputs.__anext__()
                    except StopAsyncIteration:
                        return
                    finally:
                        reset_current(token)
                    yield chunk
            finally:
                await outputs.aclose()
        if self.is_gen:
            # A sync generator reads a sync iterator: it gets the chunks that
            # arrived, once the input has ended.
            for chunk in self._transform(iter([x async for x in inputs]), ctx):
                yield chunk
            return
        value = merge_values([x async for x in inputs])
        token = set_current(ctx.tracer, ctx.run)
        try:
            result = self.func(value)
            if self.is_async or inspect.isawaitable(result):
                result = await result
        finally:
            reset_current(token)
        yield result

    def __repr__(self) -> str:
        return f"RunnableLambda({self.name})"


kinds.sequence = RunnableSequence
kinds.parallel = RunnableParallel
kinds.function = RunnableLambda
