"""One stream, many readers on this instance: the log is read once and each
event is written to every reader's response by one task.

Reading per reader (what a plain SSE endpoint does) costs, for N readers of a
stream, N store reads, N encodings and N task wake-ups per event. Here a
``Broadcast`` per stream reads the store, encodes each event once and writes
it to the responses of the readers that are caught up (``live``); a live
reader's own task stays parked until its client leaves.

A reader that is behind (it has just connected, or its client stopped
reading) catches up in a task of its own, from the broadcast's recent events
or from the store, and joins ``live`` once it is level. A write to a live
reader whose connection is not draining (the server's flow control holds the
send) is given up after ``SLOW_SEND`` seconds; nothing of that event was
written, and the reader goes back to catching up. So a slow client costs the
others at most ``SLOW_SEND`` once, and never loses or repeats an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._config import ServerConfig
from ._log import READ_BATCH, StoreError, StreamGone, StreamStore
from ._producer import error_data
from ._sse import KEEPALIVE, encode_event

__all__ = ["LOST", "SLOW_SEND", "Fanout", "Reader"]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# How long one reader's held-up write may hold up the others.
SLOW_SEND = 0.02
# Encoded events kept for readers catching up (beyond them, the store).
RECENT = 1024


def _error_event(code: str, message: str) -> bytes:
    """An ending that is not in the log (the reader learns it, the log does
    not), as SSE without an id: a reconnect resumes from the last logged event."""
    return b"event: error\ndata: " + error_data(code, message).encode() + b"\n\n"


LOST = _error_event(
    "stream_lost", "the stream is no longer in the store (it expired, or the store lost it)"
)
UNAVAILABLE = _error_event("store_unavailable", "the stream store stopped answering")
FAILED = _error_event("server_error", "the server failed while reading the stream")
logger = logging.getLogger("rill.server")


async def _last_words(reader: Reader, data: bytes) -> None:
    with contextlib.suppress(Exception):
        await reader.write(data, last=True)
    reader.end()


class Reader:
    """One client's response: ``after`` is the last seq it was sent (kept up
    to date only while it catches up; a live reader is level with its
    broadcast); ``done`` resolves when its response has ended."""

    __slots__ = ("after", "catching_up", "done", "live", "send")

    def __init__(self, send: Send, after: int) -> None:
        self.send = send
        self.after = after
        self.live = False
        self.catching_up: asyncio.Task[None] | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def write(self, data: bytes, *, last: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": not last})
        if last:
            self.end()

    def end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class Broadcast:
    """The readers of one stream on this instance and the task that feeds them."""

    def __init__(self, fanout: Fanout, stream_id: str, epoch: str, seq: int) -> None:
        self.fanout = fanout
        self.stream_id = stream_id
        self.epoch = epoch
        self.seq = seq
        # Once the stream has ended: what a reader level with ``seq`` is sent
        # last (b"" when the log's final event, ``final_seq``, ended it).
        self.end: bytes | None = None
        self.final_seq = -1
        self.recent: deque[tuple[int, bytes]] = deque(maxlen=RECENT)
        self.live: dict[Reader, None] = {}
        self.behind: set[Reader] = set()
        self.advanced = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    # ------------------------------------------------------------- readers

    def add(self, reader: Reader) -> None:
        if reader.after == self.seq and self.end is None:
            reader.live = True
            self.live[reader] = None
        else:
            self.behind.add(reader)
            reader.catching_up = asyncio.get_running_loop().create_task(self._catch_up(reader))

    def remove(self, reader: Reader) -> None:
        reader.live = False
        self.live.pop(reader, None)
        self.behind.discard(reader)
        if reader.catching_up is not None:
            reader.catching_up.cancel()
        if not self.live and not self.behind:
            self.fanout.drop(self)

    async def _catch_up(self, reader: Reader) -> None:
        try:
            while not reader.done.done():
                if reader.after < self.seq:
                    data, reader.after, final = await self._since(reader.after)
                    await reader.write(data, last=final)
                elif self.end is not None:
                    await reader.write(self.end, last=True)
                elif reader.after == self.seq:
                    # Level: from here on the broadcast writes to it (no await
                    # between the check and the join, so nothing falls between).
                    self.behind.discard(reader)
                    reader.live = True
                    self.live[reader] = None
                    return
                else:
                    # Ahead of this instance's view of the log (the id came from
                    # another instance): wait for the broadcast to get there.
                    await self.advanced.wait()
        except StreamGone:
            await _last_words(reader, LOST)
        except StoreError:
            await _last_words(reader, UNAVAILABLE)
        except Exception:
            # The client's connection failed under the write: it is gone.
            reader.end()
        finally:
            self.behind.discard(reader)

    async def _since(self, after: int) -> tuple[bytes, int, bool]:
        """Encoded events after ``after`` (a batch): from ``recent`` when it
        reaches back that far, else from the store."""
        recent = self.recent
        if recent and recent[0][0] <= after + 1:
            start = after + 1 - recent[0][0]
            pieces = [recent[i][1] for i in range(start, min(len(recent), start + READ_BATCH))]
            last = after + len(pieces)
            return b"".join(pieces), last, last == self.final_seq
        events = await self.fanout.store.read(self.stream_id, after, 0.0)
        if not events:
            raise StreamGone(self.stream_id)
        data = b"".join(encode_event(self.epoch, e) for e in events)
        return data, events[-1].seq, events[-1].final

    # --------------------------------------------------------------- feed

    async def _run(self) -> None:
        try:
            await self._feed()
        except Exception:
            logger.exception("reading stream %s failed", self.stream_id)
            await self._finish(FAILED)

    async def _feed(self) -> None:
        fanout = self.fanout
        store, config = fanout.store, fanout.config
        wait = min(config.keepalive, max(0.05, config.lease_ttl / 2))
        quiet_since = time.monotonic()
        outage: float | None = None
        while True:
            try:
                events = await store.read(self.stream_id, self.seq, wait)
                if not events:
                    info = await store.info(self.stream_id)
                    if info is None:
                        await self._finish(LOST)
                        return
                    if info.finished and self.seq >= info.last_seq:
                        await self._finish(b"")
                        return
                    if info.lease_lapsed:
                        message = "the instance producing this stream stopped"
                        data = error_data("producer_lost", message)
                        await store.finish(self.stream_id, "error", data, if_lapsed=True)
                        continue
                outage = None
            except StreamGone:
                await self._finish(LOST)
                return
            except StoreError:
                now = time.monotonic()
                outage = now if outage is None else outage
                if now - outage > max(3 * config.lease_ttl, 5.0):
                    await self._finish(UNAVAILABLE)
                    return
                await asyncio.sleep(0.1)
                continue
            now = time.monotonic()
            if events:
                pieces = [encode_event(self.epoch, e) for e in events]
                before = self.seq
                for event, piece in zip(events, pieces, strict=True):
                    self.recent.append((event.seq, piece))
                final = events[-1].final
                self.seq = events[-1].seq
                if final:
                    self.end, self.final_seq = b"", self.seq
                await self._write_live(b"".join(pieces), before, last=final)
                self.advanced.set()
                self.advanced = asyncio.Event()
                quiet_since = now
                if final:
                    return
            elif now - quiet_since >= config.keepalive:
                await self._write_live(KEEPALIVE, self.seq, last=False)
                quiet_since = now

    async def _finish(self, data: bytes) -> None:
        self.end = data
        await self._write_live(data, self.seq, last=True)
        self.advanced.set()

    async def _write_live(self, data: bytes, before: int, *, last: bool) -> None:
        """Write ``data`` to every live reader; one whose write is held up
        past ``SLOW_SEND`` goes back to catching up from ``before``."""
        message = {"type": "http.response.body", "body": data, "more_body": not last}
        readers = list(self.live)
        i = 0
        while i < len(readers):
            try:
                # A held-up write is the only place this task can wait, so the
                # deadline lands on the reader whose connection is not draining.
                async with asyncio.timeout(SLOW_SEND):
                    while i < len(readers):
                        reader = readers[i]
                        i += 1
                        if not reader.live:
                            continue
                        try:
                            await reader.send(message)
                        except Exception:
                            # A server that reports a client gone by raising.
                            self.live.pop(reader, None)
                            reader.live = False
                            reader.end()
                            continue
                        if last:
                            reader.end()
            except TimeoutError:
                slow = readers[i - 1]
                if slow.live:
                    self.live.pop(slow, None)
                    slow.live = False
                    slow.after = before
                    self.add(slow)


class Fanout:
    """The broadcasts of this instance, one per stream being read."""

    def __init__(self, store: StreamStore, config: ServerConfig) -> None:
        self.store = store
        self.config = config
        self._broadcasts: dict[str, Broadcast] = {}

    def attach(self, stream_id: str, epoch: str, reader: Reader) -> Broadcast:
        broadcast = self._broadcasts.get(stream_id)
        if broadcast is None or broadcast.epoch != epoch or broadcast.task.done():
            broadcast = Broadcast(self, stream_id, epoch, reader.after)
            self._broadcasts[stream_id] = broadcast
        broadcast.add(reader)
        return broadcast

    def drop(self, broadcast: Broadcast) -> None:
        if self._broadcasts.get(broadcast.stream_id) is broadcast:
            del self._broadcasts[broadcast.stream_id]
        broadcast.task.cancel()

    async def aclose(self) -> None:
        broadcasts = list(self._broadcasts.values())
        self._broadcasts.clear()
        for broadcast in broadcasts:
            broadcast.task.cancel()
        for broadcast in broadcasts:
            with contextlib.suppress(asyncio.CancelledError):
                await broadcast.task
