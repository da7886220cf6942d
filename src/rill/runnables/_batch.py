"""``batch`` and its kin: one runnable over many inputs, at most
``max_concurrency`` at a time. The sync forms use worker threads (so they
work inside a running event loop, which they never touch); the async forms
use tasks."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

from .._errors import InvalidRequestError
from ._config import RunConfig, check_config

if TYPE_CHECKING:
    from ._base import Runnable

__all__ = ["abatch", "abatch_as_completed", "batch_config", "batch_threads"]


def batch_config(
    runnable: Runnable[Any, Any],
    config: RunConfig | None,
    max_concurrency: int | None,
    inputs: Sequence[Any],
) -> tuple[RunConfig, int | None]:
    if isinstance(inputs, str | bytes) or not isinstance(inputs, Sequence):
        raise InvalidRequestError(f"batch takes a list of inputs, not {type(inputs).__name__}")
    """The config each call gets (``invoke`` adds the runnable's own) and
    the concurrency limit: the argument, else the call's config, else the
    runnable's ``with_config``."""
    cfg = check_config(config)
    if max_concurrency is not None:
        cfg = check_config({**cfg, "max_concurrency": max_concurrency})
    limit = cfg.pop("max_concurrency", None)
    if limit is None:
        limit = runnable._root_config({}).get("max_concurrency")
    return cfg, limit


def batch_threads(
    runnable: Runnable[Any, Any],
    inputs: Sequence[Any],
    cfg: RunConfig,
    limit: int | None,
    return_exceptions: bool,
) -> Iterator[tuple[int, Any]]:
    if not inputs:
        return
    workers = min(limit or len(inputs), len(inputs), 64)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rill-batch") as pool:
        futures = {
            pool.submit(contextvars.copy_context().run, runnable.invoke, item, cfg): i
            for i, item in enumerate(inputs)
        }
        try:
            for future in as_completed(futures):
                try:
                    result: Any = future.result()
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    result = exc
                yield futures[future], result
        finally:
            for future in futures:
                future.cancel()


async def abatch_as_completed(
    runnable: Runnable[Any, Any],
    inputs: Sequence[Any],
    cfg: RunConfig,
    limit: int | None,
    return_exceptions: bool,
) -> AsyncIterator[tuple[int, Any]]:
    import anyio

    from ._tasks import spawn

    if not inputs:
        return
    limiter = anyio.CapacityLimiter(limit or len(inputs))
    send, receive = anyio.create_memory_object_stream[tuple[int, Any, bool]](len(inputs))

    async def one(index: int, item: Any) -> None:
        async with limiter:
            try:
                result: Any = await runnable.ainvoke(item, cfg)
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


async def abatch(
    runnable: Runnable[Any, Any],
    inputs: Sequence[Any],
    cfg: RunConfig,
    limit: int | None,
    return_exceptions: bool,
) -> list[Any]:
    """``runnable.ainvoke`` on each input in a task group; the first failure
    cancels the rest and is raised as itself (not in an exception group)."""
    import anyio

    results: list[Any] = [None] * len(inputs)
    if not inputs:
        return results
    limiter = anyio.CapacityLimiter(limit or len(inputs))
    failures: list[Exception] = []

    async def one(index: int, item: Any) -> None:
        async with limiter:
            try:
                results[index] = await runnable.ainvoke(item, cfg)
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
