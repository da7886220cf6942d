"""Wake-ups for the Redis store's readers: one pub/sub connection per store.

A reader that has read a stream to its end waits for the next append. With a
blocking ``XREAD`` per waiting stream, an instance following a thousand
streams holds a thousand Redis connections (about 19 KB of memory each here,
and a share of Redis's ``maxclients``). Instead, every append and finish
``PUBLISH``es on the stream's channel (in the same Lua script as the write),
and each store keeps one pub/sub connection, subscribed to the channels of
the streams someone on this instance waits on.

A notice only says "read again": a lost one (the connection dropped, Redis
restarted) costs a reader at most its wait's timeout, and every waiter is
woken when the connection fails, so nothing waits on a dead channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Channel", "Notices"]

log = logging.getLogger("rill.server")

# How long a channel stays subscribed after its last waiter left: a reader
# waits again right after each read, and re-subscribing costs a round trip.
_LINGER = 2.0


class Channel:
    """One stream's channel: ``changed`` is set (and replaced) by each
    notice; ``users`` counts the reads waiting on it."""

    __slots__ = ("changed", "confirmed", "idle_since", "lingering", "name", "users")

    def __init__(self, name: str) -> None:
        self.name = name
        self.users = 0
        self.idle_since = 0.0
        self.lingering = False
        self.changed = asyncio.Event()
        self.confirmed = asyncio.Event()

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class Notices:
    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._pubsub: PubSub | None = None
        self._channels: dict[str, Channel] = {}
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._wanted = asyncio.Event()

    @contextlib.asynccontextmanager
    async def watching(self, name: str) -> AsyncIterator[Channel]:
        """``name``'s channel, subscribed (and confirmed by Redis) on entry,
        so a notice published after entry is not missed."""
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = Channel(name)
        channel.users += 1
        try:
            if not channel.confirmed.is_set():
                await self._subscribe(channel)
            yield channel
        finally:
            channel.users -= 1
            if not channel.users:
                channel.idle_since = time.monotonic()
                if not channel.lingering:
                    channel.lingering = True
                    asyncio.get_running_loop().call_later(_LINGER, self._release, channel)

    async def _subscribe(self, channel: Channel) -> None:
        if self._closed:
            raise RedisConnectionError("the store is closed")
        if self._pubsub is None:
            if isinstance(self._client, RedisCluster):
                # Learns the slots, which choose the node to subscribe on (any
                # would do: a cluster passes every PUBLISH to every node).
                await self._client.initialize()
            self._pubsub = self._client.pubsub()
        # One at a time: concurrent first subscriptions would each open a
        # connection for the same PubSub (redis-py keeps the last).
        async with self._lock:
            await self._pubsub.subscribe(channel.name)
        self._wanted.set()
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        await channel.confirmed.wait()

    def _release(self, channel: Channel) -> None:
        """Unsubscribe a channel nobody has waited on for ``_LINGER`` seconds
        (a reader between two reads is not "nobody": it counts from the last)."""
        channel.lingering = False
        if self._closed or channel.users or self._channels.get(channel.name) is not channel:
            return
        idle = time.monotonic() - channel.idle_since
        if idle < _LINGER:
            channel.lingering = True
            asyncio.get_running_loop().call_later(_LINGER - idle, self._release, channel)
            return
        del self._channels[channel.name]
        if self._pubsub is not None:
            unsubscribe = self._unsubscribe(self._pubsub, channel.name)
            task = asyncio.get_running_loop().create_task(unsubscribe)
            task.add_done_callback(_ignore_failure)

    async def _unsubscribe(self, pubsub: PubSub, name: str) -> None:
        async with self._lock:
            # Watched again meanwhile (and subscribed, or about to be, after
            # this lock): an UNSUBSCRIBE now would silence it.
            if name not in self._channels:
                await pubsub.unsubscribe(name)

    async def _listen(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        while True:
            if not pubsub.subscribed:
                # Nothing to listen to (redis-py may even have let go of the
                # connection): until the next subscription.
                self._wanted.clear()
                await self._wanted.wait()
                continue
            try:
                message = await pubsub.get_message(timeout=1.0)
            except (RedisConnectionError, RedisTimeoutError, OSError, RuntimeError):
                # (RuntimeError: redis-py let go of the connection as the
                # last channel was unsubscribed under this read.)
                # Whatever was published meanwhile is lost: every waiter reads
                # again. redis-py subscribes again when it reconnects, and
                # each channel is confirmed anew.
                for channel in self._channels.values():
                    channel.confirmed.clear()
                    channel.notify()
                await asyncio.sleep(0.1)
                continue
            if message is None:
                continue
            name = message["channel"]
            found = self._channels.get(name if isinstance(name, str) else name.decode())
            if found is None:
                continue
            channel = found
            if message["type"] == "message":
                channel.notify()
            elif message["type"] == "subscribe":
                channel.confirmed.set()

    async def aclose(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        for channel in self._channels.values():
            channel.notify()


def _ignore_failure(task: asyncio.Task[None]) -> None:
    # An unsubscribe that failed leaves a channel nobody reads: harmless,
    # and gone with the connection.
    if not task.cancelled() and task.exception() is not None:
        log.debug("unsubscribing failed: %r", task.exception())
