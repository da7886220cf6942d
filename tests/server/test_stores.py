"""One scenario suite for every store: memory, SQLite (a real file), Redis
(a real redis-server) and a Redis Cluster (three real redis-servers). "Two
instances" are two store objects over the same backend (the memory store is
one object: it serves one process)."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from rill.server._log import LeaseLost, StreamFinished, StreamGone, StreamStore, new_token
from rill.server._stores import open_store


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[StreamStore, StreamStore]]:
    a = open_store(store_url)
    b = a if store_url == "memory" else open_store(store_url)
    try:
        yield a, b
    finally:
        await a.aclose()
        if b is not a:
            await b.aclose()


def _id() -> str:
    return new_token()


async def test_events_are_numbered_from_one_and_read_after(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    epoch = await a.create(sid, "t1", token, 5.0)
    assert await a.append(sid, token, [("chunk", '"a"'), ("chunk", '"b"')], 5.0) == 2
    assert await a.append(sid, token, [("chunk", '"c"')], 5.0) == 3
    events = await b.read(sid, 0, 1.0)
    assert [(e.seq, e.kind, e.data) for e in events] == [
        (1, "chunk", '"a"'),
        (2, "chunk", '"b"'),
        (3, "chunk", '"c"'),
    ]
    assert [e.seq for e in await b.read(sid, 2, 1.0)] == [3]
    info = await b.info(sid)
    assert info is not None
    assert (info.epoch, info.tenant, info.last_seq, info.finished) == (epoch, "t1", 3, False)
    assert not info.lease_lapsed


async def test_exactly_one_final_event(stores: tuple[StreamStore, StreamStore]) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    assert await a.append(sid, token, [("chunk", "1"), ("done", "{}")], 5.0) == 2
    with pytest.raises(StreamFinished):
        await a.append(sid, token, [("chunk", "2")], 5.0)
    assert not await b.finish(sid, "cancelled", "{}", if_lapsed=False)
    assert not await b.finish(sid, "error", "{}", if_lapsed=True)
    events = await b.read(sid, 0, 1.0)
    assert [e.kind for e in events] == ["chunk", "done"]
    assert events[-1].final
    started = time.monotonic()
    assert await b.read(sid, 2, 2.0) == []  # ended: no wait
    assert time.monotonic() - started < 1.0
    info = await b.info(sid)
    assert info is not None and info.finished and not info.lease_lapsed


async def test_a_final_kind_must_come_last(stores: tuple[StreamStore, StreamStore]) -> None:
    a, _ = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    with pytest.raises(ValueError, match="last"):
        await a.append(sid, token, [("done", "{}"), ("chunk", "1")], 5.0)
    with pytest.raises(ValueError, match="final"):
        await a.finish(sid, "chunk", "1", if_lapsed=False)


async def test_appends_are_fenced_by_the_lease_token(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    with pytest.raises(LeaseLost):
        await b.append(sid, new_token(), [("chunk", "1")], 5.0)
    with pytest.raises(LeaseLost):
        await b.renew(sid, new_token(), 5.0)
    assert await a.append(sid, token, [("chunk", "1")], 5.0) == 1


async def test_a_lapsed_lease_ends_the_stream_with_producer_lost_once(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 0.6)
    await a.append(sid, token, [("chunk", "1")], 0.6)
    assert not await b.finish(sid, "error", '"producer_lost"', if_lapsed=True)  # lease alive
    await anyio.sleep(0.9)
    info = await b.info(sid)
    assert info is not None and info.lease_lapsed and not info.finished
    with pytest.raises(LeaseLost):
        await a.append(sid, token, [("chunk", "2")], 0.6)
    results = [await b.finish(sid, "error", '"producer_lost"', if_lapsed=True) for _ in range(3)]
    assert results == [True, False, False]
    with pytest.raises(StreamFinished):
        await a.append(sid, token, [("chunk", "2")], 0.6)
    assert [(e.kind, e.data) for e in await a.read(sid, 0, 1.0)] == [
        ("chunk", "1"),
        ("error", '"producer_lost"'),
    ]


async def test_renewing_keeps_the_lease(stores: tuple[StreamStore, StreamStore]) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 0.6)
    for _ in range(4):
        await anyio.sleep(0.2)
        await a.renew(sid, token, 0.6)
    info = await b.info(sid)
    assert info is not None and not info.lease_lapsed
    assert await a.append(sid, token, [("chunk", "1")], 0.6) == 1


async def test_cancel_from_another_instance_fences_the_producer(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    await a.append(sid, token, [("chunk", "1")], 5.0)
    assert await b.finish(sid, "cancelled", "{}", if_lapsed=False)
    with pytest.raises(StreamFinished):
        await a.append(sid, token, [("chunk", "2")], 5.0)
    with pytest.raises(StreamFinished):
        await a.renew(sid, token, 5.0)
    assert [e.kind for e in await b.read(sid, 0, 1.0)] == ["chunk", "cancelled"]


async def test_a_reader_blocks_until_the_next_append(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    got: list[int] = []
    elapsed = 0.0

    async def reader() -> None:
        nonlocal elapsed
        started = time.monotonic()
        got.extend(e.seq for e in await b.read(sid, 0, 5.0))
        elapsed = time.monotonic() - started

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.sleep(0.3)
        assert got == []
        await a.append(sid, token, [("chunk", "1")], 5.0)
    assert got == [1]
    assert 0.25 < elapsed < 2.0  # woke on the append, well before the 5 s timeout


async def test_a_read_with_nothing_new_times_out_empty(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    await a.append(sid, token, [("chunk", "1")], 5.0)
    started = time.monotonic()
    assert await b.read(sid, 1, 0.4) == []
    assert 0.35 < time.monotonic() - started < 2.0


async def test_an_unknown_stream_is_gone(stores: tuple[StreamStore, StreamStore]) -> None:
    a, _ = stores
    assert await a.info(_id()) is None
    with pytest.raises(StreamGone):
        await a.read(_id(), 0, 0.1)
    with pytest.raises(StreamGone):
        await a.append(_id(), new_token(), [("chunk", "1")], 5.0)
    with pytest.raises(StreamGone):
        await a.finish(_id(), "cancelled", "{}", if_lapsed=False)


async def test_a_stream_id_is_created_once(stores: tuple[StreamStore, StreamStore]) -> None:
    a, b = stores
    sid = _id()
    await a.create(sid, "t", new_token(), 5.0)
    with pytest.raises(ValueError, match="exists"):
        await b.create(sid, "t", new_token(), 5.0)


async def test_long_streams_are_read_in_bounded_batches(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    for start in range(0, 1000, 100):
        await a.append(sid, token, [("chunk", str(i)) for i in range(start, start + 100)], 5.0)
    await a.append(sid, token, [("done", "{}")], 5.0)
    seen: list[str] = []
    after = 0
    while True:
        batch = await b.read(sid, after, 1.0)
        if not batch:
            break
        assert len(batch) <= 256
        seen += [e.data for e in batch]
        after = batch[-1].seq
    assert seen == [str(i) for i in range(1000)] + ["{}"]


async def test_concurrent_readers_see_identical_sequences(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    sid, token = _id(), new_token()
    await a.create(sid, "t", token, 5.0)
    results: list[list[tuple[int, str]]] = [[], [], [], []]

    async def reader(store: StreamStore, out: list[tuple[int, str]]) -> None:
        after = 0
        while True:
            batch = await store.read(sid, after, 2.0)
            out += [(e.seq, e.data) for e in batch]
            if batch:
                after = batch[-1].seq
            if batch and batch[-1].final:
                return

    async with anyio.create_task_group() as tg:
        for i, out in enumerate(results):
            tg.start_soon(reader, a if i % 2 else b, out)
        for i in range(50):
            await a.append(sid, token, [("chunk", str(i))], 5.0)
            if i % 10 == 0:
                await anyio.sleep(0.01)
        await a.append(sid, token, [("done", "{}")], 5.0)
    assert results[0] == [(i + 1, str(i)) for i in range(50)] + [(51, "{}")]
    assert results[1] == results[0] == results[2] == results[3]


async def test_holds_bound_a_tenant_across_instances(
    stores: tuple[StreamStore, StreamStore],
) -> None:
    a, b = stores
    tenant = _id()
    assert await a.hold(tenant, "h1", 2, 5.0) == 0
    assert await b.hold(tenant, "h2", 2, 5.0) == 1
    assert await b.hold(tenant, "h3", 2, 5.0) is None  # the bound counts both instances
    assert await a.hold(_id(), "h3", 2, 5.0) == 0  # another tenant has its own
    assert await a.hold(tenant, "h2", 2, 5.0) == 1  # taken again (a retry): still one hold
    await a.release_hold(tenant, "h1")
    assert await b.hold(tenant, "h3", 2, 5.0) == 1
    await b.release_hold(tenant, "never-held")


async def test_holds_lapse_unless_renewed(stores: tuple[StreamStore, StreamStore]) -> None:
    a, b = stores
    tenant = _id()
    assert await a.hold(tenant, "kept", 2, 0.6) == 0
    assert await a.hold(tenant, "left", 2, 0.6) == 1
    for _ in range(3):
        await anyio.sleep(0.3)
        await a.renew_holds(tenant, ["kept"], 0.6)
    # "left" (taken by an instance that stopped renewing) has lapsed; "kept" has not.
    assert await b.hold(tenant, "new", 2, 5.0) == 1
    assert await b.hold(tenant, "more", 2, 5.0) is None


async def test_redis_recognises_a_retried_append_and_finish(
    store_url: str, anyio_backend: str
) -> None:
    """A command whose reply was lost is sent again by the client: the store
    must answer as the first time, never append twice."""
    if not store_url.startswith(("redis://", "redis+cluster://")):
        pytest.skip("the retry guard is the Redis store's (the others have no lost replies)")
    from rill.server._redis import RedisStore

    store = open_store(store_url)
    assert isinstance(store, RedisStore)
    try:
        sid, token = _id(), new_token()
        await store.create(sid, "t", token, 5.0)
        assert await store.append(sid, token, [("chunk", "1"), ("chunk", "2")], 5.0) == 2
        store._seqs[sid] = 0  # as if the reply had been lost: the same batch again
        assert await store.append(sid, token, [("chunk", "1"), ("chunk", "2")], 5.0) == 2
        assert await store.append(sid, token, [("chunk", "3")], 5.0) == 3
        store._seqs[sid] = 1  # a stale position that is not a retry is refused
        with pytest.raises(LeaseLost):
            await store.append(sid, token, [("chunk", "x")], 5.0)
        assert [e.data for e in await store.read(sid, 0, 1.0)] == ["1", "2", "3"]
    finally:
        await store.aclose()


_APPEND_LATER = """
import asyncio, sys, time
from rill.server._sqlite import SQLiteStore

async def main(path, sid, token):
    store = SQLiteStore(path)
    await asyncio.sleep(0.3)
    await store.append(sid, token, [("chunk", "from another process")], 5.0)
    await store.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_sqlite_wakes_a_reader_in_another_process(tmp_path: Path, anyio_backend: str) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("wake-ups across processes watch a socket on asyncio; elsewhere it polls")
    from rill.server._sqlite import SQLiteStore

    path = str(tmp_path / "streams.db")
    # Polling every 5 s: only a wake-up can end the wait sooner.
    store = SQLiteStore(path, poll=5.0)
    try:
        sid, token = _id(), new_token()
        await store.create(sid, "t", token, 5.0)
        child = await anyio.open_process([sys.executable, "-c", _APPEND_LATER, path, sid, token])
        started = time.monotonic()
        events = await store.read(sid, 0, 10.0)
        elapsed = time.monotonic() - started
        await child.wait()
        assert [e.data for e in events] == ["from another process"]
        assert 0.3 <= elapsed < 2.5, elapsed  # woken by the append, not by the 5 s poll
    finally:
        await store.aclose()


async def test_a_channel_watched_again_as_it_is_released_stays_subscribed(
    store_url: str, anyio_backend: str
) -> None:
    """A reader waits again at the moment its idle channel is released: the
    release's UNSUBSCRIBE must not land after the new SUBSCRIBE."""
    if not store_url.startswith(("redis://", "redis+cluster://")):
        pytest.skip("wake-ups by notice are the Redis store's")
    from rill.server._redis import RedisStore, _keys

    store = open_store(store_url)
    assert isinstance(store, RedisStore)
    notices = store._notices
    try:
        sid, token = _id(), new_token()
        await store.create(sid, "t", token, 10.0)
        name = _keys(sid)[3]
        async with notices.watching(name) as channel:
            pass
        channel.idle_since -= 60  # idle long enough: this release goes through
        notices._release(channel)
        async with notices.watching(name) as again:
            changed = again.changed
            await store.append(sid, token, [("chunk", "1")], 10.0)
            with anyio.fail_after(2.0):
                await changed.wait()  # the notice of that append arrived
        await anyio.sleep(0.2)  # the release's unsubscribe, if any, has run
        async with notices.watching(name) as later:
            changed = later.changed
            await store.append(sid, token, [("chunk", "2")], 10.0)
            with anyio.fail_after(2.0):
                await changed.wait()
    finally:
        await store.aclose()
