"""What the endpoints of one server instance share: its settings, its store,
its readers' broadcasts, its background generations and the holds it has
taken on each tenant's bound (counted in the store, across instances)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from ._config import ServerConfig
from ._fanout import Fanout
from ._http import HTTPError
from ._log import StoreError, StreamStore, new_token

__all__ = ["ServerState"]


class ServerState:
    def __init__(self, config: ServerConfig, store: StreamStore) -> None:
        self.config = config
        self.store = store
        self.fanout = Fanout(store, config)
        self.tasks: set[asyncio.Task[None]] = set()
        # This instance's holds on the per-key bound, by tenant.
        self.holds: dict[str, set[str]] = {}
        self._renewing: asyncio.Task[None] | None = None

    async def acquire(self, tenant: str) -> str:
        """Count one generation against ``tenant``'s bound, across every
        instance sharing the store; returns the hold that ``release`` drops.
        While held, it is renewed with the leases; the holds of an instance
        that stopped lapse after ``lease_ttl``."""
        holder = new_token()
        bound = self.config.max_streams_per_key
        try:
            count = await self.store.hold(tenant, holder, bound, self.config.lease_ttl)
        except StoreError:
            raise HTTPError(503, "store_unavailable", "the stream store is not answering") from None
        if count is None:
            raise HTTPError(
                429,
                "too_many_streams",
                f"this key already runs {bound} streams (the bound is {bound} per key)",
            )
        self.holds.setdefault(tenant, set()).add(holder)
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.get_running_loop().create_task(self._renew())
        return holder

    async def release(self, tenant: str, holder: str) -> None:
        held = self.holds.get(tenant)
        if held is None or holder not in held:
            return
        held.discard(holder)
        if not held:
            del self.holds[tenant]
        with contextlib.suppress(StoreError):
            # If the store does not answer, the hold lapses by itself.
            await self.store.release_hold(tenant, holder)

    async def _renew(self) -> None:
        ttl = self.config.lease_ttl
        while self.holds:
            await asyncio.sleep(ttl / 3)
            for tenant, held in list(self.holds.items()):
                with contextlib.suppress(StoreError):
                    await self.store.renew_holds(tenant, list(held), ttl)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` beyond the request that started it (no reader needed)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def aclose(self) -> None:
        tasks = list(self.tasks)
        if self._renewing is not None:
            tasks.append(self._renewing)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.fanout.aclose()
        await self.store.aclose()
