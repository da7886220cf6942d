"""Response caches: hits replay the recorded stream chunk for chunk; only
complete, unfiltered streams are stored; TTL and size bounds; one SQLite
file written by two processes at once."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import rill
from rill._cache import Recording
from rill.testing import Emulator, Fault, Reply, Script

TEXT = "A cache replays what the model said, chunk for chunk."


def client(emu: Emulator, cache: Any, **kw: Any) -> rill.Client:
    return rill.Client(
        model="openai/gpt-4o-mini",
        api_keys={"openai": "sk-test-cache-0000"},
        base_urls={"openai": emu.base_url},
        cache=cache,
        tracing=False,
        **kw,
    )


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return rill.MemoryCache()
    return rill.SQLiteCache(tmp_path / "cache.db")


def test_a_hit_replays_the_same_chunks_marked_cached(rill_emulator: Emulator, cache: Any) -> None:
    c = client(rill_emulator, cache)
    rill_emulator.enqueue(Script.of_text(TEXT))
    with c.generate_stream("Hi", temperature=0.5, max_tokens=50) as stream:
        live = list(stream)
        first = stream.response
    # same request, parameters in another order, another key: still a hit
    with c.generate_stream("Hi", max_tokens=50, temperature=0.5, api_key="sk-other-1111") as stream:
        replayed = list(stream)
        second = stream.response
    assert len(rill_emulator.requests) == 1
    assert replayed == live
    assert [c.raw for c in replayed] == [c.raw for c in live]
    assert second.content == first.content == TEXT
    assert second.usage == first.usage
    assert (first.cached, second.cached) == (False, True)
    assert second.cost is not None and second.cost.total == 0.0
    assert c.costs.calls == 1  # the hit cost nothing and is not counted


def test_a_different_request_misses(rill_emulator: Emulator, cache: Any) -> None:
    c = client(rill_emulator, cache)
    rill_emulator.enqueue(Script.of_text(TEXT), Script.of_text(TEXT), Script.of_text(TEXT))
    c.generate("Hi")
    assert not c.generate("Hi", temperature=0.1).cached
    assert not c.generate("Hi", model="openai/gpt-4o").cached
    assert c.generate("Hi").cached
    assert not c.generate("Hi", cache=False).cached
    assert len(rill_emulator.requests) == 4


async def test_async_hit(rill_emulator: Emulator, cache: Any) -> None:
    c = client(rill_emulator, cache)
    rill_emulator.enqueue(Script.of_text(TEXT))
    first = await c.agenerate("Hi")
    chunks = [chunk async for chunk in c.agenerate_stream("Hi")]
    assert "".join(ch.content for ch in chunks) == first.content
    assert len(rill_emulator.requests) == 1


def test_interrupted_error_and_filtered_streams_are_not_cached(
    rill_emulator: Emulator, cache: Any
) -> None:
    c = client(rill_emulator, cache, max_retries=0)
    rill_emulator.enqueue(Script.of_text(TEXT))
    with c.generate_stream("interrupted") as stream:
        next(iter(stream))
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.close_after(900),)))
    with pytest.raises(rill.IncompleteStreamError):
        c.generate("cut")
    rill_emulator.enqueue(Script(replies=(Reply(text="no", finish_reason="content_filter"),)))
    assert c.generate("filtered").finish_reason == "content_filter"
    rill_emulator.enqueue(Script.of_status(500))
    with pytest.raises(rill.ServerError):
        c.generate("error")
    assert len(cache) == 0
    for prompt in ("interrupted", "cut", "filtered", "error"):
        assert not c.generate(prompt).cached


def test_ttl_expires(rill_emulator: Emulator, tmp_path: Path) -> None:
    for cache in (rill.MemoryCache(ttl=0.3), rill.SQLiteCache(tmp_path / "t.db", ttl=0.3)):
        c = client(rill_emulator, cache)
        c.generate("Hi")
        assert c.generate("Hi").cached
        time.sleep(0.35)
        assert not c.generate("Hi").cached


def test_size_bounds(rill_emulator: Emulator, tmp_path: Path) -> None:
    for cache in (
        rill.MemoryCache(max_entries=2),
        rill.SQLiteCache(tmp_path / "n.db", max_entries=2),
    ):
        c = client(rill_emulator, cache)
        for prompt in ("a", "b", "c"):
            c.generate(prompt)
        assert len(cache) == 2
        assert not c.generate("a").cached  # the least recently used went first
        assert c.generate("c").cached
    one = Recording((b"x" * 100,), (0.0,), "openai", "m").dumps()
    cache = rill.SQLiteCache(tmp_path / "b.db", max_bytes=len(one) * 2 + 10, max_entries=None)
    for key in ("k1", "k2", "k3"):
        cache.set(key, Recording((b"x" * 100,), (0.0,), "openai", "m"))
    assert len(cache) == 2 and cache.get("k1") is None and cache.get("k3") is not None


def test_paced_replay_keeps_the_recorded_gaps(rill_emulator: Emulator) -> None:
    cache = rill.MemoryCache(paced=True)
    c = client(rill_emulator, cache)
    rill_emulator.enqueue(Script.of_text("one two three four five", tokens_per_second=20))
    live = c.generate("Hi")
    start = time.perf_counter()
    replay = c.generate("Hi")
    elapsed = time.perf_counter() - start
    assert replay.cached
    assert live.timing.total * 0.6 <= elapsed <= live.timing.total + 1.0
    assert rill.Client(cache=rill.MemoryCache()).cache is not None


def _write(path: str, worker: int, count: int) -> None:
    cache = rill.SQLiteCache(path, busy_timeout=30)
    for i in range(count):
        piece = f"{worker}:{i}".encode() * 200
        cache.set(f"{worker}-{i}", Recording((piece,), (0.0,), "openai", "m"))
        assert cache.get(f"{worker}-{i}") is not None


def test_two_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    rill.SQLiteCache(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(path, w, 150)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    cache = rill.SQLiteCache(path)
    assert len(cache) == 300
    for worker in range(2):
        got = cache.get(f"{worker}-149")
        assert got is not None and got.pieces == (f"{worker}:149".encode() * 200,)
    with contextlib.closing(sqlite3.connect(path)) as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_structured_streaming_uses_the_cache(rill_emulator: Emulator) -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    c = client(rill_emulator, rill.MemoryCache())
    rill_emulator.enqueue(Script.of_text('{"name": "Lyon"}'))
    assert rill.generate_object("A city", City, client=c) == City(name="Lyon")
    stream = rill.stream_object("A city", City, client=c)
    assert stream.final == City(name="Lyon")
    assert stream.response.cached
    assert len(rill_emulator.requests) == 1


def test_a_failing_cache_costs_the_cache_never_the_call(
    rill_emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "broken.db"
    c = client(rill_emulator, rill.SQLiteCache(path))
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE rill_cache")
    assert c.generate("Hi").content
    assert not c.generate("Hi").cached
    warnings = [r.getMessage() for r in caplog.records if r.name == "rill"]
    assert any("cache read failed" in w for w in warnings)
    assert any("cache write failed" in w for w in warnings)


async def test_async_paced_replay(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, rill.MemoryCache(paced=True))
    rill_emulator.enqueue(Script.of_text("one two three four", tokens_per_second=20))
    live = await c.agenerate("Hi")
    start = time.perf_counter()
    replay = await c.agenerate("Hi")
    elapsed = time.perf_counter() - start
    assert replay.cached and replay.content == live.content
    assert live.timing.total * 0.6 <= elapsed <= live.timing.total + 1.0
