"""The producer: the one task that writes a stream's log.

It appends each event its source yields, fenced by its lease, and renews the
lease while the source is quiet. When the store says the lease is no longer
its own (a cancel from any instance wrote the final event, the lease lapsed,
the store lost the stream), it stops the source, which closes the upstream
response. A store that stops answering is retried until the lease would have
lapsed anyway.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

import anyio
import orjson

from .._errors import RillError
from ._log import LeaseLost, StoreError, StreamFinished, StreamGone, StreamStore

__all__ = ["Producer", "error_data"]

log = logging.getLogger("rill.server")

_FENCED = (LeaseLost, StreamFinished, StreamGone)


def error_data(code: str, message: str, type_: str | None = None) -> str:
    body: dict[str, str] = {"code": code, "message": message}
    if type_ is not None:
        body["type"] = type_
    return orjson.dumps(body).decode()


class Producer:
    """Writes ``source``'s events to ``stream_id`` while ``token`` holds its lease.

    ``source`` yields ``(kind, data)`` pairs and ends with its final event;
    if it raises, the stream ends with an ``error`` event instead."""

    def __init__(
        self,
        store: StreamStore,
        stream_id: str,
        token: str,
        *,
        lease_ttl: float,
        max_events: int,
    ) -> None:
        self.store = store
        self.stream_id = stream_id
        self.token = token
        self.lease_ttl = lease_ttl
        self.max_events = max_events
        self.seq = 0
        self._written = time.monotonic()

    async def run(self, source: AsyncIterator[tuple[str, str]]) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._keep_lease, tg.cancel_scope)
            try:
                await self._pump(source)
            finally:
                tg.cancel_scope.cancel()

    async def _keep_lease(self, scope: anyio.CancelScope) -> None:
        period = self.lease_ttl / 3
        while True:
            await anyio.sleep(max(0.0, self._written + period - time.monotonic()))
            if time.monotonic() - self._written < period:
                continue
            try:
                await self.store.renew(self.stream_id, self.token, self.lease_ttl)
                self._written = time.monotonic()
            except _FENCED:
                scope.cancel()  # cancelled or lost elsewhere: stop the generation
                return
            except StoreError:
                await anyio.sleep(min(0.2, period))

    async def _append(self, events: Sequence[tuple[str, str]]) -> None:
        delay = 0.02
        while True:
            try:
                self.seq = await self.store.append(
                    self.stream_id, self.token, events, self.lease_ttl
                )
                self._written = time.monotonic()
                return
            except _FENCED:
                raise
            except StoreError:
                if time.monotonic() - self._written > self.lease_ttl:
                    raise LeaseLost(self.stream_id) from None
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _pump(self, source: AsyncIterator[tuple[str, str]]) -> None:
        try:
            async with contextlib.aclosing(source):  # type: ignore[type-var]
                async for kind, data in source:
                    if self.seq >= self.max_events - 1 and kind not in ("done", "error"):
                        message = f"the stream reached its limit of {self.max_events} events"
                        await self._append([("error", error_data("stream_too_long", message))])
                        return
                    await self._append([(kind, data)])
        except _FENCED:
            return
        except RillError as exc:
            await self._finish_with(error_data("upstream_error", str(exc), type(exc).__name__))
        except Exception:
            log.exception("stream %s failed", self.stream_id)
            await self._finish_with(error_data("internal_error", "the server failed"))

    async def _finish_with(self, data: str) -> None:
        with contextlib.suppress(*_FENCED):
            await self._append([("error", data)])
