"""Two ``rill serve`` processes sharing a real redis-server: any instance
serves any stream, a reader resumes on the other instance, a killed producer
ends its streams with ``producer_lost``, and a Redis restart either keeps the
streams (with persistence) or says they are lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rill.testing import Emulator, Script

from .conftest import UPSTREAM_KEY
from .redis_proc import RedisProcess
from .serving import SSE, ServerProcess, events_of, headers, iter_sse

TEXT = " ".join(f"word{i}" for i in range(120))


def _env(upstream: Emulator) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "RILL_SERVER_API_KEYS": "k1,k2",
    }


def _config(tmp_path: Path, lease_ttl: float = 2.0) -> str:
    path = tmp_path / "rill.toml"
    path.write_text(
        f"lease_ttl = {lease_ttl}\nkeepalive = 1.0\nretry_ms = 500\nmax_streams_per_key = 3\n"
    )
    return str(path)


@pytest.fixture
def pair(
    upstream: Emulator, redis_server: RedisProcess, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    args = ["--store", redis_server.url, "--config", _config(tmp_path), "--log-level", "warning"]
    with ServerProcess(args, _env(upstream)) as a, ServerProcess(args, _env(upstream)) as b:
        yield a, b


def _start(url: str, prompt: str = "hi") -> dict[str, str]:
    r = httpx.post(url + "/v1/streams", json={"prompt": prompt}, headers=headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def _read(url: str, sid: str, last: str | None = None, stop_after: int | None = None) -> list[SSE]:
    extra = {"last-event-id": last} if last is not None else {}
    blocks: list[SSE] = []
    with httpx.stream("GET", f"{url}/v1/streams/{sid}", headers=headers(**extra), timeout=30) as r:
        assert r.status_code == 200, r.read()
        for block in iter_sse(r):
            blocks.append(block)
            if stop_after is not None and len(events_of(blocks)) >= stop_after:
                break  # leaving the with block drops the connection mid-stream
    return blocks


def _raw(blocks: list[SSE]) -> bytes:
    return b"".join(e.raw for e in events_of(blocks))


def _text(blocks: list[SSE]) -> str:
    return "".join(e.json["text"] for e in events_of(blocks) if e.event == "chunk")


def test_half_from_a_the_rest_from_b_equals_the_whole_stream(
    pair: tuple[ServerProcess, ServerProcess], upstream: Emulator
) -> None:
    a, b = pair
    upstream.enqueue(Script.of_text(TEXT, tokens_per_second=150))
    created = _start(a.url)
    first = _read(a.url, created["id"], stop_after=40)
    last_id = events_of(first)[-1].id
    assert last_id == f"{created['epoch']}:40"
    rest = _read(b.url, created["id"], last=last_id)
    assert rest[0].id == last_id  # B's preamble names the position it resumes from
    whole = _read(b.url, created["id"])
    assert _raw(first) + _raw(rest) == _raw(whole)
    assert _text(whole) == TEXT
    assert events_of(whole)[-1].event == "done"


def test_two_concurrent_readers_on_two_instances_see_the_same(
    pair: tuple[ServerProcess, ServerProcess], upstream: Emulator
) -> None:
    a, b = pair
    upstream.enqueue(Script.of_text(TEXT, tokens_per_second=100))
    created = _start(b.url)
    results: dict[str, bytes] = {}

    def reader(name: str, url: str) -> None:
        results[name] = _raw(_read(url, created["id"]))

    threads = [
        threading.Thread(target=reader, args=(n, u)) for n, u in (("a", a.url), ("b", b.url))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["a"] == results["b"]
    assert results["a"].endswith(b"event: done\ndata: " + results["a"].rsplit(b"data: ", 1)[1])


def test_cancel_on_the_other_instance_stops_the_producer(
    pair: tuple[ServerProcess, ServerProcess], upstream: Emulator
) -> None:
    a, b = pair
    upstream.enqueue(Script.of_text(TEXT * 5, tokens_per_second=30))
    created = _start(a.url)
    time.sleep(0.5)
    r = httpx.post(f"{b.url}/v1/streams/{created['id']}/cancel", headers=headers())
    assert r.json()["cancelled"] is True
    assert upstream.wait_closed(5)  # A noticed and closed its upstream response
    events = events_of(_read(a.url, created["id"]))
    assert [e.event for e in events if e.event != "chunk"] == ["cancelled"]


def test_killing_the_producer_ends_readers_with_producer_lost(
    pair: tuple[ServerProcess, ServerProcess], upstream: Emulator
) -> None:
    a, b = pair
    upstream.enqueue(Script.of_text(TEXT * 5, tokens_per_second=30))
    created = _start(a.url)
    outcome: list[list[SSE]] = []
    reader = threading.Thread(target=lambda: outcome.append(_read(b.url, created["id"])))
    reader.start()
    time.sleep(0.8)
    a.kill()
    killed = time.monotonic()
    reader.join(15)
    assert not reader.is_alive()  # no hang
    elapsed = time.monotonic() - killed
    assert 1.5 < elapsed < 8.0  # the 2 s lease had to lapse first; then it ended promptly
    events = events_of(outcome[0])
    finals = [e for e in events if e.event != "chunk"]
    assert [(e.event, e.json["code"]) for e in finals] == [("error", "producer_lost")]
    again = events_of(_read(b.url, created["id"]))
    assert _raw(again) == _raw(outcome[0])  # written once, the same for every reader


def test_forged_and_stale_ids_on_another_instance(
    pair: tuple[ServerProcess, ServerProcess], upstream: Emulator
) -> None:
    a, b = pair
    created = _start(a.url)
    _read(a.url, created["id"])
    forged = created["id"][:-4] + ("AAAA" if not created["id"].endswith("AAAA") else "BBBB")
    assert httpx.get(f"{b.url}/v1/streams/{forged}", headers=headers()).status_code == 404
    stale = {"last-event-id": "00000000:1" if created["epoch"] != "00000000" else "11111111:1"}
    target = f"{b.url}/v1/streams/{created['id']}"
    assert httpx.get(target, headers=headers(**stale)).status_code == 409
    assert httpx.get(target, headers=headers("k2")).status_code == 404


@pytest.mark.parametrize("persist", [True, False], ids=["persistent", "volatile"])
def test_a_redis_restart(upstream: Emulator, tmp_path: Path, persist: bool) -> None:
    redis = RedisProcess(tmp_path / "data")
    redis.workdir.mkdir()
    redis.start(persist=persist)
    args = ["--store", redis.url, "--config", _config(tmp_path, 4.0), "--log-level", "warning"]
    try:
        with ServerProcess(args, _env(upstream)) as a, ServerProcess(args, _env(upstream)) as b:
            upstream.enqueue(Script.of_text(TEXT, tokens_per_second=60))
            created = _start(a.url)
            first = _read(b.url, created["id"], stop_after=30)
            last_id = events_of(first)[-1].id
            # A reader still connected through the restart.
            live: list[list[SSE]] = []
            reader = threading.Thread(
                target=lambda: live.append(_read(a.url, created["id"], last=last_id))
            )
            reader.start()
            time.sleep(0.2)
            redis.restart(persist=persist)
            reader.join(20)
            assert not reader.is_alive()
            if persist:
                assert _text(first) + _text(live[0]) == TEXT
                rest = _read(b.url, created["id"], last=last_id)
                assert _text(first) + _text(rest) == TEXT
                assert events_of(rest)[-1].event == "done"
                assert _raw(first) + _raw(rest) == _raw(_read(a.url, created["id"]))
            else:
                assert live[0][-1].event == "error"
                assert live[0][-1].json["code"] == "stream_lost"
                assert live[0][-1].id is None  # not a log event: nothing to resume from
                r = httpx.get(
                    f"{b.url}/v1/streams/{created['id']}",
                    headers=headers(**{"last-event-id": str(last_id)}),
                )
                assert r.status_code == 404
                assert "lost" in r.json()["error"]["message"]
                assert upstream.wait_closed(10)  # the producer stopped: its appends are refused
                assert (
                    httpx.get(f"{a.url}/v1/streams/{created['id']}", headers=headers()).status_code
                    == 404
                )  # never a silent restart at 1
    finally:
        redis.stop()


def test_the_per_key_bound_counts_every_instance(
    pair: tuple[ServerProcess, ServerProcess], upstream: Emulator
) -> None:
    a, b = pair
    upstream.enqueue(*[Script.of_text(TEXT, tokens_per_second=40)] * 3)
    first = _start(a.url)
    _start(b.url)
    _start(a.url)
    # Three running (the bound is 3), two on A and one on B: B refuses a fourth.
    refused = httpx.post(b.url + "/v1/streams", json={"prompt": "hi"}, headers=headers())
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_streams"
    other = httpx.post(b.url + "/v1/streams", json={"prompt": "hi"}, headers=headers("k2"))
    assert other.status_code == 201  # another key has its own bound
    events_of(_read(a.url, first["id"]))  # the first ends...
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # ...and its hold is released soon after
        upstream.enqueue(Script.of_text("ok"))
        again = httpx.post(b.url + "/v1/streams", json={"prompt": "hi"}, headers=headers())
        if again.status_code == 201:
            break
        time.sleep(0.1)
    assert again.status_code == 201
