"""A stream is an append-only log of numbered events ending in exactly one
final event; this module is the one interface every store implements.

The log is what lets any instance serve any reader: a reader (the first one
included) reads what is there and then blocks on the store for more, so it
never matters which process produced the events. Writes are fenced by a lease:
the producer holds an owner token that expires unless renewed, and an append
with a token that is no longer the lease's fails. When a lease lapses before
the final event, the first reader to notice ends the stream with
``error: producer_lost`` (an atomic "finish if still open", so exactly once).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FINAL_KINDS",
    "Event",
    "LeaseLost",
    "StreamFinished",
    "StreamGone",
    "StreamInfo",
    "StreamStore",
    "new_epoch",
    "new_token",
]

FINAL_KINDS = frozenset({"done", "error", "cancelled"})

# Events returned by one read: bounds the memory a reader far behind holds.
READ_BATCH = 256


@dataclass(frozen=True, slots=True)
class Event:
    """One log entry: ``seq`` counts from 1; ``data`` is JSON text."""

    seq: int
    kind: str
    data: str

    @property
    def final(self) -> bool:
        return self.kind in FINAL_KINDS


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a reader needs before it reads: whose stream it is (``tenant``),
    its epoch, how far it goes, and whether it ended or its producer is gone
    (``lease_lapsed``: no final event and no live lease)."""

    epoch: str
    tenant: str
    last_seq: int
    finished: bool
    lease_lapsed: bool


class StoreError(Exception):
    """Base of the store outcomes the server handles (never leaves the server)."""


class LeaseLost(StoreError):
    """The append's owner token is not the stream's live lease."""


class StreamFinished(StoreError):
    """The stream already has its final event."""


class StreamGone(StoreError):
    """The stream is not in the store (expired, never existed, or the store
    lost its data)."""


def new_epoch() -> str:
    return secrets.token_hex(4)


def new_token() -> str:
    return secrets.token_urlsafe(16)


class StreamStore(ABC):
    """Where stream logs live. Every method is safe to call from any instance
    sharing the store; ``lease_ttl`` and TTLs are in seconds."""

    @abstractmethod
    async def create(self, stream_id: str, tenant: str, token: str, lease_ttl: float) -> str:
        """Create an empty stream whose lease ``token`` holds; return its epoch."""

    @abstractmethod
    async def append(
        self, stream_id: str, token: str, events: Sequence[tuple[str, str]], lease_ttl: float
    ) -> int:
        """Append ``(kind, data)`` events atomically if ``token`` holds the lease,
        renewing it; a final kind must come last and ends the stream. Returns
        the last seq. Raises ``LeaseLost``, ``StreamFinished`` or ``StreamGone``."""

    @abstractmethod
    async def renew(self, stream_id: str, token: str, lease_ttl: float) -> None:
        """Extend the lease; raises like ``append``."""

    @abstractmethod
    async def finish(self, stream_id: str, kind: str, data: str, *, if_lapsed: bool) -> bool:
        """Append a final event unless the stream already ended (and, with
        ``if_lapsed``, only when its lease has lapsed). True if this call ended it."""

    @abstractmethod
    async def info(self, stream_id: str) -> StreamInfo | None:
        """The stream's header, or None when it is not in the store."""

    @abstractmethod
    async def read(self, stream_id: str, after: int, timeout: float) -> list[Event]:
        """Events with seq > ``after`` (at most a batch), waiting up to
        ``timeout`` seconds for one when there are none yet; ``[]`` on timeout
        or when the stream ended. Raises ``StreamGone``."""

    # Holds: how many generations each tenant runs, across every instance
    # sharing the store. A hold expires ``ttl`` seconds after it was taken or
    # last renewed, so the holds of an instance that died lapse by themselves.

    @abstractmethod
    async def hold(self, tenant: str, holder: str, limit: int, ttl: float) -> int | None:
        """Take a hold for ``holder`` unless ``tenant`` already has ``limit``
        live ones; the number it had before, or None when at the limit."""

    @abstractmethod
    async def renew_holds(self, tenant: str, holders: Sequence[str], ttl: float) -> None:
        """Extend ``holders``' holds (those still live) by ``ttl`` from now."""

    @abstractmethod
    async def release_hold(self, tenant: str, holder: str) -> None:
        """Drop ``holder``'s hold (nothing if it has none)."""

    async def aclose(self) -> None:
        """Release connections and background tasks."""
        return


def require_final(kind: str) -> None:
    if kind not in FINAL_KINDS:
        raise ValueError(f"{kind!r} is not a final event kind")


def check_final_last(events: Sequence[tuple[str, str]]) -> bool:
    """Whether the batch ends the stream; a final kind anywhere but last is a bug."""
    for kind, _ in events[:-1]:
        if kind in FINAL_KINDS:
            raise ValueError(f"final event {kind!r} must be the last of its batch")
    return bool(events) and events[-1][0] in FINAL_KINDS
