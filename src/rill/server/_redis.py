"""The Redis store: many instances on many machines share streams.

Each stream is three keys with one hash tag, ``{stream:ID}``, so they live in
one Redis Cluster slot and a Lua script may touch all of them: ``meta`` (a hash:
epoch, tenant, last seq, finished), ``log`` (a Redis Stream whose entry ids are
``0-<seq>``, so a seq is an id) and ``lease`` (the owner token, with a PX
expiry). Appends and finishes are Lua scripts, so the lease check, the
``XADD`` and the header update are one atomic step. An append also names the
seq it expects to follow: a retry after a lost reply is recognised instead of
appending twice.

Readers of one stream in one process share a single blocking ``XREAD`` (a
"tail") and its recent events, so a thousand readers cost one connection.
Keys expire: ``running_ttl`` while a stream runs, ``finished_ttl`` after its
final event. redis-py's asyncio client ties this store to asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._log import (
    READ_BATCH,
    Event,
    LeaseLost,
    StoreError,
    StreamFinished,
    StreamGone,
    StreamInfo,
    StreamStore,
    check_final_last,
    new_epoch,
    new_token,
    require_final,
)

__all__ = ["RedisStore", "StoreUnavailable"]

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] and 1 or 0
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'tenant', ARGV[2], 'seq', 0, 'finished', 0)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
return 1
"""

# ARGV: token, lease_ms, running_ttl, finished_ttl, final, expected_seq, n, kind, data, ...
# A batch already applied by this token (its reply was lost) returns its seq.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local m = redis.call('HMGET', KEYS[1], 'seq', 'finished', 'writer')
local seq = tonumber(m[1])
local n = tonumber(ARGV[7])
local expected = tonumber(ARGV[6])
if n > 0 and seq == expected + n and m[3] == ARGV[1] then return seq end
if m[2] == '1' then return -2 end
if redis.call('GET', KEYS[3]) ~= ARGV[1] or seq ~= expected then return -3 end
for i = 0, n - 1 do
  seq = seq + 1
  redis.call('XADD', KEYS[2], '0-' .. seq, 'k', ARGV[8 + 2 * i], 'd', ARGV[9 + 2 * i])
end
redis.call('HSET', KEYS[1], 'seq', seq, 'writer', ARGV[1])
local ttl = ARGV[3]
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'finished', 1)
  redis.call('DEL', KEYS[3])
  ttl = ARGV[4]
else
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ttl)
if seq > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return seq
"""

# ARGV: kind, data, if_lapsed, finished_ttl, nonce (a retry of this call returns 1 again)
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'finished') == '1' then
  return redis.call('HGET', KEYS[1], 'writer') == ARGV[5] and 1 or 0
end
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq')) + 1
redis.call('XADD', KEYS[2], '0-' .. seq, 'k', ARGV[1], 'd', ARGV[2])
redis.call('HSET', KEYS[1], 'seq', seq, 'finished', 1, 'writer', ARGV[5])
redis.call('DEL', KEYS[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

_INFO = """
local h = redis.call('HMGET', KEYS[1], 'epoch', 'tenant', 'seq', 'finished')
if not h[1] then return false end
return {h[1], h[2], h[3], h[4], redis.call('EXISTS', KEYS[3])}
"""

_TAIL_BUFFER = 1024
_TAIL_BLOCK_MS = 1000
_TAIL_IDLE = 2.0


class StoreUnavailable(StoreError):
    """Redis did not answer (restarting, unreachable); callers retry."""


class _Tail:
    """One blocking XREAD per stream per process, fanned out to its readers."""

    __slots__ = ("changed", "events", "last", "readers", "task", "touched")

    def __init__(self, last: int) -> None:
        self.last = last
        self.events: deque[Event] = deque(maxlen=_TAIL_BUFFER)
        self.changed = asyncio.Event()
        self.readers = 0
        self.touched = time.monotonic()
        self.task: asyncio.Task[None] | None = None

    def after(self, seq: int) -> list[Event] | None:
        """Buffered events after ``seq``; None when the buffer cannot say."""
        if seq == self.last:
            return []
        if not self.events or seq + 1 < self.events[0].seq or seq > self.last:
            return None
        start = seq + 1 - self.events[0].seq
        return list(itertools.islice(self.events, start, start + READ_BATCH))


def _keys(stream_id: str) -> list[str]:
    tag = f"rill:{{stream:{stream_id}}}"
    return [f"{tag}:meta", f"{tag}:log", f"{tag}:lease"]


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore(StreamStore):
    """Streams in Redis at ``url`` (``redis://host:port/db``)."""

    def __init__(
        self,
        url: str,
        *,
        running_ttl: float = 86400.0,
        finished_ttl: float = 300.0,
        max_connections: int = 50,
    ) -> None:
        self.url = url
        self.running_ttl = running_ttl
        self.finished_ttl = finished_ttl
        # Commands are retried across a reconnect (a restarting Redis); every
        # script is safe to repeat (see ``_APPEND``; ``_CREATE`` knows its epoch).
        # Commands share a bounded pool (callers queue for a connection);
        # each tail's blocking XREAD has a connection of its own.
        options: dict[str, Any] = {
            "decode_responses": True,
            "health_check_interval": 5,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 8),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        }
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=20, **options
        )
        self._redis: Redis = Redis(connection_pool=pool)
        self._blocking: Redis = Redis.from_url(url, max_connections=2**31 - 1, **options)
        self._create = self._redis.register_script(_CREATE)
        self._append = self._redis.register_script(_APPEND)
        self._finish = self._redis.register_script(_FINISH)
        self._info = self._redis.register_script(_INFO)
        self._tails: dict[str, _Tail] = {}
        self._seqs: dict[str, int] = {}

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from None

    async def create(self, stream_id: str, tenant: str, token: str, lease_ttl: float) -> str:
        epoch = new_epoch()
        args = [epoch, tenant, token, _ms(lease_ttl), int(self.running_ttl)]
        if not await self._call(self._create, _keys(stream_id), args):
            raise ValueError(f"stream {stream_id!r} exists")
        self._seqs[stream_id] = 0
        return epoch

    async def _write(
        self, stream_id: str, token: str, events: Sequence[tuple[str, str]], lease_ttl: float
    ) -> int:
        final = check_final_last(events)
        expected = self._seqs.get(stream_id, 0)
        args: list[Any] = [
            token,
            _ms(lease_ttl),
            int(self.running_ttl),
            int(self.finished_ttl),
            int(final),
            expected,
            len(events),
        ]
        for kind, data in events:
            args += (kind, data)
        result = int(await self._call(self._append, _keys(stream_id), args))
        if result == -1:
            self._seqs.pop(stream_id, None)
            raise StreamGone(stream_id)
        if result == -2:
            self._seqs.pop(stream_id, None)
            raise StreamFinished(stream_id)
        if result == -3:
            self._seqs.pop(stream_id, None)
            raise LeaseLost(stream_id)
        if final:
            self._seqs.pop(stream_id, None)
        else:
            self._seqs[stream_id] = result
        return result

    async def append(
        self, stream_id: str, token: str, events: Sequence[tuple[str, str]], lease_ttl: float
    ) -> int:
        return await self._write(stream_id, token, events, lease_ttl)

    async def renew(self, stream_id: str, token: str, lease_ttl: float) -> None:
        await self._write(stream_id, token, (), lease_ttl)

    async def finish(self, stream_id: str, kind: str, data: str, *, if_lapsed: bool) -> bool:
        require_final(kind)
        args = [kind, data, int(if_lapsed), int(self.finished_ttl), "finish:" + new_token()]
        result = int(await self._call(self._finish, _keys(stream_id), args))
        if result == -1:
            raise StreamGone(stream_id)
        return result == 1

    async def info(self, stream_id: str) -> StreamInfo | None:
        row = await self._call(self._info, _keys(stream_id), [])
        if not row:
            return None
        epoch, tenant, seq, finished, leased = row
        done = finished == "1"
        return StreamInfo(epoch, tenant, int(seq), done, not done and not int(leased))

    async def _range(self, stream_id: str, after: int) -> list[Event]:
        try:
            rows: Any = await self._redis.xrange(
                _keys(stream_id)[1], min=f"0-{after + 1}", count=READ_BATCH
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from None
        return [_event(entry_id, fields) for entry_id, fields in rows]

    async def read(self, stream_id: str, after: int, timeout: float) -> list[Event]:
        tail = self._tails.get(stream_id)
        if tail is not None:
            tail.touched = time.monotonic()
            buffered = tail.after(after)
            if buffered:
                return buffered
        if tail is None or buffered is None:
            events = await self._range(stream_id, after)
            if events:
                return events
            info = await self.info(stream_id)
            if info is None:
                raise StreamGone(stream_id)
            if info.finished:
                return []
        tail = self._tail(stream_id, after)
        tail.touched = time.monotonic()
        tail.readers += 1
        try:
            changed = tail.changed
            if tail.after(after) == []:
                # asyncio.timeout, not wait_for: no task per wait (one per reader per event).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await changed.wait()
            buffered = tail.after(after)
        finally:
            tail.readers -= 1
        if buffered is None:
            return await self._range(stream_id, after)
        return buffered

    def _tail(self, stream_id: str, after: int) -> _Tail:
        tail = self._tails.get(stream_id)
        if tail is None or tail.task is None or tail.task.done():
            tail = self._tails[stream_id] = _Tail(after)
            tail.task = asyncio.create_task(self._follow(stream_id, tail))
        return tail

    async def _follow(self, stream_id: str, tail: _Tail) -> None:
        log = _keys(stream_id)[1]
        try:
            # A tail ends once no reader has waited on it for a while (readers
            # busy between two waits still count), or after the final event.
            while tail.readers or time.monotonic() - tail.touched < _TAIL_IDLE:
                try:
                    reply: Any = await self._blocking.xread(
                        {log: f"0-{tail.last}"}, count=READ_BATCH, block=_TAIL_BLOCK_MS
                    )
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    await asyncio.sleep(0.1)
                    continue
                if not reply:
                    continue
                final = False
                for entry_id, fields in reply[0][1]:
                    event = _event(entry_id, fields)
                    tail.events.append(event)
                    tail.last = event.seq
                    final = final or event.final
                changed, tail.changed = tail.changed, asyncio.Event()
                changed.set()
                if final:
                    return
        finally:
            if self._tails.get(stream_id) is tail:
                del self._tails[stream_id]
            tail.changed.set()

    async def aclose(self) -> None:
        tasks = [t.task for t in self._tails.values() if t.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()
        await self._blocking.aclose()


def _event(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(int(entry_id.partition("-")[2]), fields["k"], fields["d"])
