"""Many prompts through one client: bounded concurrency, input order, errors
kept per item, a progress bar.

The sync batch runs each call in a worker thread with the sync driver, so
it never starts an event loop and works where one is already running (a
notebook cell). Each worker runs in a copy of the caller's context, so
tracing parents and other context variables reach every call. The async
batch runs tasks on the caller's loop, as many at once as the limit allows.

The bar is rich's, imported only when one is shown (stderr is a terminal,
or ``progress=True``): done, failed, tokens and cost so far.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from ._errors import InvalidRequestError, RillError
from ._messages import Prompt
from ._response import GenerationResponse

if TYPE_CHECKING:
    from ._client_object import Client

__all__ = ["arun_batch", "run_batch"]

Result = GenerationResponse | RillError


class _Progress:
    """Counts, and rich's bar when one is shown."""

    def __init__(self, total: int, show: bool | None) -> None:
        self.done = self.failed = self.tokens = 0
        self.cost = 0.0
        if show is None:
            isatty = getattr(sys.stderr, "isatty", None)
            show = bool(isatty()) if callable(isatty) else False
        self._bar: Any = None
        if show and total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]generating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"),
                TextColumn("{task.fields[tokens]:,} tokens"),
                TextColumn("${task.fields[cost]:.4f}"),
                TimeElapsedColumn(),
                transient=False,
            )
            self._task = self._bar.add_task("batch", total=total, failed=0, tokens=0, cost=0.0)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def record(self, result: Result) -> None:
        if isinstance(result, GenerationResponse):
            self.done += 1
            self.tokens += result.usage.total_tokens
            cost = result.cost
            if cost is not None:
                self.cost += cost.total
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.update(
                self._task,
                completed=self.done + self.failed,
                failed=self.failed,
                tokens=self.tokens,
                cost=self.cost,
            )


def _check(prompts: Sequence[Prompt], max_concurrency: int) -> None:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise InvalidRequestError("prompts must be a list of prompts (strings or message lists)")
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise InvalidRequestError(
            f"max_concurrency must be a positive int, not {max_concurrency!r}"
        )


def run_batch(
    client: Client,
    prompts: Sequence[Prompt],
    options: Mapping[str, Any],
    max_concurrency: int,
    return_exceptions: bool,
    progress: bool | None,
) -> list[Any]:
    _check(prompts, max_concurrency)
    # Misconfiguration raises here, for the whole batch, before any request.
    for prompt in prompts:
        client._prepare(prompt, options, None)
    results: list[Result | None] = [None] * len(prompts)

    def one(index: int) -> None:
        try:
            results[index] = client.generate(prompts[index], **options)
        except RillError as exc:
            results[index] = exc
            if not return_exceptions:
                raise

    with (
        _Progress(len(prompts), progress) as bar,
        ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="rill-batch") as pool,
    ):
        futures = {
            pool.submit(contextvars.copy_context().run, one, i): i for i in range(len(prompts))
        }
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                result = results[futures[future]]
                if result is not None:
                    bar.record(result)
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
    return results


async def arun_batch(
    client: Client,
    prompts: Sequence[Prompt],
    options: Mapping[str, Any],
    max_concurrency: int,
    return_exceptions: bool,
    progress: bool | None,
) -> list[Any]:
    import anyio

    _check(prompts, max_concurrency)
    for prompt in prompts:
        client._prepare(prompt, options, None)
    results: list[Result | None] = [None] * len(prompts)
    failure: list[RillError] = []
    limiter = anyio.CapacityLimiter(max_concurrency)

    with _Progress(len(prompts), progress) as bar:

        async def one(index: int, scope: anyio.CancelScope) -> None:
            async with limiter:
                try:
                    result: Result = await client.agenerate(prompts[index], **options)
                except RillError as exc:
                    if not return_exceptions:
                        failure.append(exc)
                        scope.cancel()
                        return
                    result = exc
            results[index] = result
            bar.record(result)

        async with anyio.create_task_group() as tasks:
            for i in range(len(prompts)):
                tasks.start_soon(one, i, tasks.cancel_scope)
    if failure:
        raise failure[0]
    return results
