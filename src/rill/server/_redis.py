"""The Redis store: many instances on many machines share streams.

Each stream is three keys with one hash tag, ``{stream:ID}``, so they live in
one Redis Cluster slot and a Lua script may touch all of them: ``meta`` (a hash:
epoch, tenant, last seq, finished), ``log`` (a Redis Stream whose entry ids are
``0-<seq>``, so a seq is an id) and ``lease`` (the owner token, with a PX
expiry). Appends and finishes are Lua scripts, so the lease check, the
``XADD`` and the header update are one atomic step. An append also names the
seq it expects to follow: a retry after a lost reply is recognised instead of
appending twice.

A reader that has read a stream to its end waits for a notice that the next
append publishes, on one pub/sub connection per store (``_redis_notices``),
so following a thousand streams costs one connection, not a thousand.
Keys expire: ``running_ttl`` while a stream runs, ``finished_ttl`` after its
final event. redis-py's asyncio client ties this store to asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
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
from ._redis_notices import Notices

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
if n > 0 then redis.call('PUBLISH', KEYS[4], seq) end
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
redis.call('PUBLISH', KEYS[4], seq)
return 1
"""

# ARGV: first id, count. Events after a seq, or why there are none: 0 the
# stream is open, 1 it has ended, -1 it is not in Redis. One round trip.
_SINCE = """
local rows = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
if #rows > 0 then return rows end
local finished = redis.call('HGET', KEYS[1], 'finished')
if not finished then return -1 end
return finished == '1' and 1 or 0
"""

# Milliseconds on Redis's clock, as the hold scripts begin.
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# A tenant's holds: a sorted set of holders scored by when each lapses, on
# Redis's own clock (the instances share no other). ARGV: holder, limit, ttl_ms.
_HOLD = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
-- A retried call (its reply was lost) finds its hold already taken.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return count - 1 end
if count >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return count
"""
)

# ARGV: ttl_ms, holder...
_RENEW_HOLDS = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
"""
)

_INFO = """
local h = redis.call('HMGET', KEYS[1], 'epoch', 'tenant', 'seq', 'finished')
if not h[1] then return false end
return {h[1], h[2], h[3], h[4], redis.call('EXISTS', KEYS[3])}
"""


class StoreUnavailable(StoreError):
    """Redis did not answer (restarting, unreachable); callers retry."""


def _keys(stream_id: str) -> list[str]:
    """``meta``, ``log``, ``lease``, and the channel appends are announced on
    (not a key, but named with the same hash tag, as scripts name it)."""
    tag = f"rill:{{stream:{stream_id}}}"
    return [f"{tag}:meta", f"{tag}:log", f"{tag}:lease", f"{tag}:appended"]


def _holds_key(tenant: str) -> str:
    return f"rill:{{tenant:{tenant}}}:holds"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore(StreamStore):
    """Streams in Redis at ``url`` (``redis://host:port/db``); with
    ``cluster``, in the Redis Cluster that ``url``'s node belongs to."""

    def __init__(
        self,
        url: str,
        *,
        running_ttl: float = 86400.0,
        finished_ttl: float = 300.0,
        max_connections: int = 50,
        cluster: bool = False,
    ) -> None:
        self.url = url
        self.running_ttl = running_ttl
        self.finished_ttl = finished_ttl
        # Commands are retried across a reconnect (a restarting Redis); every
        # script is safe to repeat (see ``_APPEND``; ``_CREATE`` knows its epoch).
        # Commands share a bounded pool (callers queue for a connection);
        # waiting readers share one pub/sub connection (``Notices``).
        options: dict[str, Any] = {
            "decode_responses": True,
            "health_check_interval": 5,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 8),
        }
        self._redis: Redis | RedisCluster
        if cluster:
            # One pool per node, of at most ``max_connections``; commands and
            # scripts go to the node that owns their keys' slot.
            self._redis = RedisCluster.from_url(url, max_connections=max_connections, **options)
            self._subscriber: Redis | RedisCluster = RedisCluster.from_url(url, **options)
        else:
            options["retry_on_error"] = [RedisConnectionError, RedisTimeoutError]
            pool = BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=20, **options
            )
            self._redis = Redis(connection_pool=pool)
            # The pub/sub connection, outside the pool that commands queue for.
            self._subscriber = Redis.from_url(url, **options)
        self._notices = Notices(self._subscriber)
        self._create = self._redis.register_script(_CREATE)
        self._append = self._redis.register_script(_APPEND)
        self._finish = self._redis.register_script(_FINISH)
        self._info = self._redis.register_script(_INFO)
        self._since_script = self._redis.register_script(_SINCE)
        self._hold = self._redis.register_script(_HOLD)
        self._renew_holds = self._redis.register_script(_RENEW_HOLDS)
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

    async def hold(self, tenant: str, holder: str, limit: int, ttl: float) -> int | None:
        count = int(await self._call(self._hold, [_holds_key(tenant)], [holder, limit, _ms(ttl)]))
        return None if count < 0 else count

    async def renew_holds(self, tenant: str, holders: Sequence[str], ttl: float) -> None:
        if holders:
            await self._call(self._renew_holds, [_holds_key(tenant)], [_ms(ttl), *holders])

    async def release_hold(self, tenant: str, holder: str) -> None:
        try:
            await self._redis.zrem(_holds_key(tenant), holder)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from None

    async def _since(self, stream_id: str, after: int) -> tuple[list[Event], bool]:
        """Events after ``after``, and whether there are none because the
        stream has ended. Raises ``StreamGone``."""
        args = [f"0-{after + 1}", READ_BATCH]
        reply = await self._call(self._since_script, _keys(stream_id), args)
        if isinstance(reply, list):
            return [_event(entry_id, _fields(fields)) for entry_id, fields in reply], False
        if reply == -1:
            raise StreamGone(stream_id)
        return [], reply == 1

    async def read(self, stream_id: str, after: int, timeout: float) -> list[Event]:
        if timeout <= 0:
            return (await self._since(stream_id, after))[0]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                # Watching first (free once subscribed), then reading: an
                # append after the read is announced to this wait.
                async with self._notices.watching(_keys(stream_id)[3]) as channel:
                    changed = channel.changed
                    events, ended = await self._since(stream_id, after)
                    if events or ended:
                        return events
                    await changed.wait()
        return (await self._since(stream_id, after))[0]

    async def aclose(self) -> None:
        await self._notices.aclose()
        await self._redis.aclose()
        if isinstance(self._redis, Redis):
            await self._redis.connection_pool.disconnect()
        await self._subscriber.aclose()


def _fields(flat: list[str]) -> dict[str, str]:
    """A Redis Stream entry's fields as a script returns them: a flat list."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _event(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(int(entry_id.partition("-")[2]), fields["k"], fields["d"])
