"""The in-memory store: one process, no setup. Readers wait on an event that
the next append sets, so an idle stream costs a list and a few fields."""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio

from ._log import (
    READ_BATCH,
    Event,
    LeaseLost,
    StreamFinished,
    StreamGone,
    StreamInfo,
    StreamStore,
    check_final_last,
    new_epoch,
    require_final,
)

__all__ = ["MemoryStore"]


class _Stream:
    __slots__ = (
        "changed",
        "epoch",
        "events",
        "expires",
        "finished",
        "lease_until",
        "tenant",
        "token",
    )

    def __init__(self, epoch: str, tenant: str, token: str, lease_until: float) -> None:
        self.epoch = epoch
        self.tenant = tenant
        self.token = token
        self.lease_until = lease_until
        self.events: list[Event] = []
        self.finished = False
        self.expires = float("inf")
        self.changed = anyio.Event()

    def add(self, events: Sequence[tuple[str, str]], final: bool, finished_ttl: float) -> int:
        seq = len(self.events)
        for kind, data in events:
            seq += 1
            self.events.append(Event(seq, kind, data))
        if final:
            self.finished = True
            self.expires = time.monotonic() + finished_ttl
        self.changed.set()
        self.changed = anyio.Event()
        return seq


class MemoryStore(StreamStore):
    """Streams in this process's memory; a finished stream is kept
    ``finished_ttl`` seconds for late readers, then dropped."""

    def __init__(self, *, finished_ttl: float = 300.0) -> None:
        self.finished_ttl = finished_ttl
        self._streams: dict[str, _Stream] = {}
        self._next_sweep = 0.0
        self._holds: dict[str, dict[str, float]] = {}

    def _get(self, stream_id: str) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None or stream.expires <= time.monotonic():
            raise StreamGone(stream_id)
        return stream

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(self.finished_ttl, 60.0)
        for key in [k for k, s in self._streams.items() if s.expires <= now]:
            del self._streams[key]

    async def create(self, stream_id: str, tenant: str, token: str, lease_ttl: float) -> str:
        now = time.monotonic()
        self._sweep(now)
        if stream_id in self._streams:
            raise ValueError(f"stream {stream_id!r} exists")
        epoch = new_epoch()
        self._streams[stream_id] = _Stream(epoch, tenant, token, now + lease_ttl)
        return epoch

    def _fenced(self, stream_id: str, token: str) -> _Stream:
        stream = self._get(stream_id)
        if stream.finished:
            raise StreamFinished(stream_id)
        now = time.monotonic()
        if stream.token != token or stream.lease_until <= now:
            raise LeaseLost(stream_id)
        return stream

    async def append(
        self, stream_id: str, token: str, events: Sequence[tuple[str, str]], lease_ttl: float
    ) -> int:
        final = check_final_last(events)
        stream = self._fenced(stream_id, token)
        stream.lease_until = time.monotonic() + lease_ttl
        return stream.add(events, final, self.finished_ttl)

    async def renew(self, stream_id: str, token: str, lease_ttl: float) -> None:
        self._fenced(stream_id, token).lease_until = time.monotonic() + lease_ttl

    async def finish(self, stream_id: str, kind: str, data: str, *, if_lapsed: bool) -> bool:
        require_final(kind)
        stream = self._get(stream_id)
        if stream.finished or (if_lapsed and stream.lease_until > time.monotonic()):
            return False
        stream.add([(kind, data)], True, self.finished_ttl)
        return True

    async def info(self, stream_id: str) -> StreamInfo | None:
        try:
            s = self._get(stream_id)
        except StreamGone:
            return None
        lapsed = not s.finished and s.lease_until <= time.monotonic()
        return StreamInfo(s.epoch, s.tenant, len(s.events), s.finished, lapsed)

    def _live_holds(self, tenant: str, now: float) -> dict[str, float]:
        holds = self._holds.setdefault(tenant, {})
        for holder in [h for h, until in holds.items() if until <= now]:
            del holds[holder]
        return holds

    async def hold(self, tenant: str, holder: str, limit: int, ttl: float) -> int | None:
        now = time.monotonic()
        holds = self._live_holds(tenant, now)
        if len(holds) >= limit and holder not in holds:
            return None
        holds[holder] = now + ttl
        return len(holds) - 1

    async def renew_holds(self, tenant: str, holders: Sequence[str], ttl: float) -> None:
        now = time.monotonic()
        holds = self._live_holds(tenant, now)
        for holder in holders:
            if holder in holds:
                holds[holder] = now + ttl

    async def release_hold(self, tenant: str, holder: str) -> None:
        holds = self._holds.get(tenant)
        if holds is not None:
            holds.pop(holder, None)
            if not holds:
                del self._holds[tenant]

    async def read(self, stream_id: str, after: int, timeout: float) -> list[Event]:
        stream = self._get(stream_id)
        if len(stream.events) <= after and not stream.finished:
            with anyio.move_on_after(timeout):
                await stream.changed.wait()
        return stream.events[after : after + READ_BATCH]
