"""Background tasks that outlive no one: started from async code on asyncio
or trio, without a task group (a task group cannot stay open across the
``yield`` of an async generator that its consumer may abandon). Each task
runs in a cancel scope the starter keeps, so the starter can cancel it from
wherever its cleanup runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["spawn"]

_RUNNING: set[Any] = set()


def spawn(func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Start ``func(*args)`` in the background; return the cancel scope it
    runs in (``scope.cancel()`` stops it). ``func`` must not raise."""
    import anyio

    scope = anyio.CancelScope()

    async def run() -> None:
        with scope:
            await func(*args)

    if _on_trio():
        import trio

        trio.lowlevel.spawn_system_task(run)
    else:
        import asyncio

        task = asyncio.get_running_loop().create_task(run())
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
    return scope


def _on_trio() -> bool:
    try:
        import sniffio  # trio depends on it; without it, this is asyncio

        return bool(sniffio.current_async_library() == "trio")
    except Exception:
        return False
