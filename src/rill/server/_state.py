"""What the endpoints of one server instance share: its settings, its store,
its background generations and how many each tenant is running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from ._config import ServerConfig
from ._fanout import Fanout
from ._http import HTTPError
from ._log import StreamStore

__all__ = ["ServerState"]


class ServerState:
    def __init__(self, config: ServerConfig, store: StreamStore) -> None:
        self.config = config
        self.store = store
        self.fanout = Fanout(store, config)
        self.tasks: set[asyncio.Task[None]] = set()
        self.running: dict[str, int] = {}

    def acquire(self, tenant: str) -> None:
        """Count one generation against ``tenant``'s bound; ``release`` undoes it."""
        count = self.running.get(tenant, 0)
        if count >= self.config.max_streams_per_key:
            raise HTTPError(
                429,
                "too_many_streams",
                f"this key already runs {count} streams (the bound is "
                f"{self.config.max_streams_per_key} per key per instance)",
            )
        self.running[tenant] = count + 1

    def release(self, tenant: str) -> None:
        left = self.running[tenant] - 1
        if left:
            self.running[tenant] = left
        else:
            del self.running[tenant]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` beyond the request that started it (no reader needed)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def aclose(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.fanout.aclose()
        await self.store.aclose()
