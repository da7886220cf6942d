"""Runnables that wrap another: fixed configuration, retries, fallbacks.

None of them is a run of its own: the events are those of the runnable
they wrap (a retried attempt carries the tag ``retry:attempt:N``). Retries
and fallbacks need the input again, so they wait for their whole input; a
stream is retried, or handed to a fallback, only while it has yielded
nothing, so no chunk ever reaches the caller twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, TypeVar

from .._errors import InvalidRequestError
from ._base import Runnable, coerce, kinds
from ._config import Context, RunConfig
from ._iterators import aclose, close

__all__ = ["RunnableRetry", "RunnableWithConfig", "RunnableWithFallbacks"]

In = TypeVar("In")
Out = TypeVar("Out")


class _Wrapper(Runnable[In, Out]):
    def __init__(self, bound: Runnable[In, Out]) -> None:
        self.bound = bound

    def get_name(self) -> str:
        return self.name or self.bound.get_name()

    def _check_input(self, input: Any) -> None:
        self.bound._check_input(input)

    @property
    def run_type(self) -> str:  # type: ignore[override]
        return self.bound.run_type

    def __getattr__(self, name: str) -> Any:
        # Attributes of the wrapped runnable (a chat model's ``model``, ...).
        if name == "bound":
            raise AttributeError(name)
        return getattr(self.bound, name)


class RunnableWithConfig(_Wrapper[In, Out]):
    """A runnable with tags, metadata, a run name or callbacks fixed."""

    def __init__(self, bound: Runnable[In, Out], config: RunConfig) -> None:
        super().__init__(bound)
        self.config = config

    def _root_config(self, cfg: RunConfig) -> RunConfig:
        merged: dict[str, Any] = {**self.config, **cfg}
        if "callbacks" in self.config and "callbacks" in cfg:
            merged["callbacks"] = [*self.config["callbacks"], *cfg["callbacks"]]
        return self.bound._root_config(merged)  # type: ignore[arg-type]

    def _run(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        inner = ctx.configured(self.config)
        return _relay(self.bound._run(inputs, inner), ctx, inner)

    def _arun(self, inputs: AsyncIterator[In], ctx: Context) -> AsyncIterator[Out]:
        inner = ctx.configured(self.config)
        return _arelay(self.bound._arun(inputs, inner), ctx, inner)

    def __repr__(self) -> str:
        return f"{self.bound!r}.with_config({dict(self.config)!r})"


def _relay(steps: Iterator[Any], ctx: Context, inner: Context) -> Iterator[Any]:
    try:
        yield from steps
    finally:
        close(steps)
        ctx.run = inner.run


async def _arelay(steps: AsyncIterator[Any], ctx: Context, inner: Context) -> AsyncIterator[Any]:
    try:
        async for chunk in steps:
            yield chunk
    finally:
        await aclose(steps)
        ctx.run = inner.run


class RunnableRetry(_Wrapper[In, Out]):
    """A runnable retried on failure: up to ``stop_after_attempt`` attempts,
    with exponential backoff (plus jitter) between them."""

    def __init__(
        self,
        bound: Runnable[In, Out],
        *,
        retry_if_exception_type: tuple[type[BaseException], ...] = (Exception,),
        stop_after_attempt: int = 3,
        wait_exponential_jitter: bool = True,
        initial_wait: float = 0.5,
        max_wait: float = 8.0,
    ) -> None:
        super().__init__(bound)
        if not isinstance(stop_after_attempt, int) or stop_after_attempt < 1:
            raise InvalidRequestError(
                f"stop_after_attempt must be a positive int, not {stop_after_attempt!r}"
            )
        self.retry_if_exception_type = tuple(retry_if_exception_type)
        self.stop_after_attempt = stop_after_attempt
        self.wait_exponential_jitter = wait_exponential_jitter
        self.initial_wait = initial_wait
        self.max_wait = max_wait

    def _delay(self, attempt: int) -> float:
        delay: float = min(self.initial_wait * 2.0 ** (attempt - 1), self.max_wait)
        if self.wait_exponential_jitter:
            delay += random.uniform(0, self.initial_wait)
        return delay

    def _attempt(self, ctx: Context, attempt: int) -> Context:
        inner = ctx.configured({})
        if attempt > 1:
            inner.local_tags = (*inner.local_tags, f"retry:attempt:{attempt}")
        return inner

    def _run(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        given = list(inputs)
        attempt = 1
        while True:
            inner = self._attempt(ctx, attempt)
            steps = self.bound._run(iter(given), inner)
            yielded = False
            try:
                for chunk in steps:
                    yielded = True
                    yield chunk
                ctx.run = inner.run
                return
            except self.retry_if_exception_type:
                if yielded or attempt >= self.stop_after_attempt:
                    raise
            finally:
                close(steps)
            time.sleep(self._delay(attempt))
            attempt += 1

    async def _arun(self, inputs: AsyncIterator[In], ctx: Context) -> AsyncIterator[Out]:
        import anyio

        given = [x async for x in inputs]
        attempt = 1
        while True:
            inner = self._attempt(ctx, attempt)
            steps = self.bound._arun(_aiter(given), inner)
            yielded = False
            try:
                async for chunk in steps:
                    yielded = True
                    yield chunk
                ctx.run = inner.run
                return
            except self.retry_if_exception_type:
                if yielded or attempt >= self.stop_after_attempt:
                    raise
            finally:
                await aclose(steps)
            await anyio.sleep(self._delay(attempt))
            attempt += 1

    def __repr__(self) -> str:
        return f"{self.bound!r}.with_retry(stop_after_attempt={self.stop_after_attempt})"


class RunnableWithFallbacks(_Wrapper[In, Out]):
    """A runnable, then each fallback in turn when the one before failed
    with one of ``exceptions_to_handle``. If all fail, the first error is
    raised."""

    def __init__(
        self,
        bound: Runnable[In, Out],
        fallbacks: Sequence[Any],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        super().__init__(bound)
        if isinstance(fallbacks, Runnable) or not isinstance(fallbacks, Sequence):
            raise InvalidRequestError("with_fallbacks takes a list of runnables")
        self.fallbacks = tuple(coerce(f) for f in fallbacks)
        self.exceptions_to_handle = tuple(exceptions_to_handle)

    def _run(self, inputs: Iterator[In], ctx: Context) -> Iterator[Out]:
        given = list(inputs)
        first_error: BaseException | None = None
        for runnable in (self.bound, *self.fallbacks):
            inner = ctx.configured({})
            steps = runnable._run(iter(given), inner)
            yielded = False
            try:
                for chunk in steps:
                    yielded = True
                    yield chunk
                ctx.run = inner.run
                return
            except self.exceptions_to_handle as exc:
                if yielded:
                    raise
                first_error = first_error or exc
            finally:
                close(steps)
        assert first_error is not None
        raise first_error

    async def _arun(self, inputs: AsyncIterator[In], ctx: Context) -> AsyncIterator[Out]:
        given = [x async for x in inputs]
        first_error: BaseException | None = None
        for runnable in (self.bound, *self.fallbacks):
            inner = ctx.configured({})
            steps = runnable._arun(_aiter(given), inner)
            yielded = False
            try:
                async for chunk in steps:
                    yielded = True
                    yield chunk
                ctx.run = inner.run
                return
            except self.exceptions_to_handle as exc:
                if yielded:
                    raise
                first_error = first_error or exc
            finally:
                await aclose(steps)
        assert first_error is not None
        raise first_error

    def __repr__(self) -> str:
        return f"{self.bound!r}.with_fallbacks({list(self.fallbacks)!r})"


kinds.configured = RunnableWithConfig
kinds.retry = RunnableRetry
kinds.fallbacks = RunnableWithFallbacks


async def _aiter(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item
