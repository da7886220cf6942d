"""rill's server under load: many SSE readers of one stream, the memory
store beside the Redis store; memory per open idle stream; and the OpenAI
relay beside LiteLLM's proxy, both in front of the emulator.

``python -m benchmarks.server`` starts, each in its own process: a
redis-server on a free loopback port (when installed), the server
(``benchmarks._server_app``: ``RillServer`` plus synthetic producers that
stamp each event with the wall clock just before its append) and load
processes (``--load``, asyncio protocols on one event loop that record when
bytes arrive and parse them after the run).
Readers connect, the producer writes ``--events`` (200) events at ``--rate``
(50) per second, and every reader records receive time minus append time for
every event. Bounded: every wait has a deadline, every process is stopped by
its pid. Results also go to ``benchmarks/results/server.json``.

Beside rill, ``benchmarks._floor_server`` (a bare asyncio server that
writes each event to every reader's socket, no framework, no store) serves
the same load: the floor this machine sets, which rill's figures are
divided by. The server runs pinned to one core and the load to another.

Targets (printed as met / MISSED, never asserted): p99 added latency under
5 ms with the memory store and under 10 ms with Redis at 1,000 readers;
under 50 KB per idle open stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from ._measure import ROOT, write_results

OUTPUT = ROOT / "benchmarks" / "results" / "server.json"
TARGET_P99_MS = {"memory": 5.0, "redis": 10.0}
TARGET_IDLE_KB = 50.0
DEADLINE = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_http(url: str, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


@contextlib.contextmanager
def _redis() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", workdir, "--maxclients", "20000"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


def _on_cpu(cpu: int) -> Callable[[], None] | None:
    """Pin a child to one core (the server to one, the load to another)
    where the machine has two."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return lambda: os.sched_setaffinity(0, {cpus[cpu]})


@contextlib.contextmanager
def _server(
    store: str, module: str = "benchmarks._server_app", extra: tuple[str, ...] = ()
) -> Iterator[tuple[str, int]]:
    port = _free_port()
    argv = [sys.executable, "-m", module, "--port", str(port), *extra]
    argv += ["--store", store] if store else []
    process = subprocess.Popen(argv, cwd=ROOT, preexec_fn=_on_cpu(0))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/healthz", process)
        yield url, process.pid
    finally:
        _stop(process)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------ the load process


_STAMP = re.compile(rb'"t":(\d+)\}')
_TEXT = re.compile(rb'"content":"[^"]')


class _SSEReader(asyncio.Protocol):
    """One SSE reader that only records what arrived and when: parsing waits
    until the end, so the load process adds as little as it can to the
    latency it measures."""

    def __init__(self, request: bytes, on_first: Callable[[], None]) -> None:
        self.request = request
        self.on_first = on_first
        self.pieces: list[tuple[int, bytes]] = []
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.pieces.append((time.time_ns(), data))
        if len(self.pieces) == 1:
            self.on_first()
        if b"event: done" in data and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def latencies_us(self) -> list[int]:
        """Receive time minus append time of every event, in µs."""
        out: list[int] = []
        tail = b""
        for at, data in self.pieces:
            text = tail + data
            last = 0
            for match in _STAMP.finditer(text):
                out.append((at - int(match.group(1))) // 1000)
                last = match.end()
            tail = text[max(last, len(text) - 64) :]
        return out


async def _load(url: str, stream_ids: list[str], readers: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    ready = 0
    all_ready = asyncio.Event()

    def on_first() -> None:
        nonlocal ready
        ready += 1
        if ready == readers:
            all_ready.set()

    protocols = []
    for i in range(readers):
        path = f"/v1/streams/{stream_ids[i % len(stream_ids)]}"
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        protocol = _SSEReader(request, on_first)
        await loop.create_connection(lambda p=protocol: p, host, int(port))  # type: ignore[misc]
        protocols.append(protocol)
    await asyncio.wait_for(all_ready.wait(), 60)
    print("READY", flush=True)
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(p.done for p in protocols)), DEADLINE)
    elapsed = time.monotonic() - started
    latencies = [x for p in protocols for x in p.latencies_us()]
    return {"latencies_us": latencies, "received": len(latencies), "elapsed": elapsed}


def load_main(url: str, ids: list[str], readers: int, out: str) -> None:
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_load(url, ids, readers))
    else:
        result = uvloop.run(_load(url, ids, readers))
    Path(out).write_text(json.dumps(result))


def _spawn_loads(
    url: str, ids: list[str], readers: int, processes: int
) -> list[subprocess.Popen[str]]:
    per = readers // processes
    loads = []
    for i in range(processes):
        # "--ids=..." in one word: a stream id may begin with "-".
        argv = [sys.executable, "-m", "benchmarks.server", "--load", url, f"--ids={','.join(ids)}"]
        argv += ["--readers", str(per), "--out", str(_load_output(i))]
        loads.append(
            subprocess.Popen(
                argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=_on_cpu(1)
            )
        )
    for load in loads:
        assert load.stdout is not None
        line = load.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"a load process did not get ready: {line!r}")
    return loads


def _load_output(i: int) -> Path:
    return OUTPUT.parent / f".load-{i}.json"


def _collect(loads: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    results = []
    for i, load in enumerate(loads):
        load.communicate(timeout=DEADLINE)
        if load.returncode != 0:
            raise RuntimeError(f"a load process failed with {load.returncode}")
        path = _load_output(i)
        results.append(json.loads(path.read_text()))
        path.unlink()
    return results


# -------------------------------------------------------------- the scenarios


def fan_out(store: str, readers: int, events: int, rate: float, processes: int) -> dict[str, Any]:
    """One stream read by ``readers``; ``store`` "floor" is the bare server
    of ``_floor_server`` instead of rill's."""
    if store == "floor":
        server = _server(
            "", "benchmarks._floor_server", ("--events", str(events), "--rate", str(rate))
        )
    else:
        server = _server(store)
    with server as (url, pid):
        if store == "floor":
            stream_id, go = "floor", f"{url}/go"
        else:
            created = httpx.post(f"{url}/bench/create?events={events}&rate={rate}")
            stream_id = created.json()["id"]
            go = f"{url}/bench/go/{stream_id}"
        loads = _spawn_loads(url, [stream_id], readers, processes)
        cpu0 = _cpu_seconds(pid)
        httpx.post(go)
        results = _collect(loads)
        cpu = _cpu_seconds(pid) - cpu0
    latencies = sorted(x for r in results for x in r["latencies_us"])
    received = sum(r["received"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    expected = events * (readers // processes) * processes
    return {
        "readers": readers,
        "events": events,
        "received": received,
        "complete": received == expected,
        "events_per_s": received / elapsed,
        "p50_ms": latencies[len(latencies) // 2] / 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] / 1000,
        "max_ms": latencies[-1] / 1000,
        "server_cpu_us_per_event": 1e6 * cpu / max(received, 1),
    }


def idle_memory(store: str, streams: int) -> dict[str, Any]:
    with _server(store) as (url, pid):
        # A first small batch warms up allocators and imports.
        warm = httpx.post(f"{url}/bench/idle?count=20", timeout=60).json()["ids"]
        loads = _spawn_loads(url, warm, 20, 1)
        time.sleep(0.5)
        before = _rss_kb(pid)
        ids = httpx.post(f"{url}/bench/idle?count={streams}", timeout=120).json()["ids"]
        time.sleep(0.5)
        streams_only = _rss_kb(pid)
        more = _spawn_loads(url, ids, streams, 1)
        time.sleep(1.0)
        with_readers = _rss_kb(pid)
        for load in loads + more:
            _stop(load)
    return {
        "streams": streams,
        "kb_per_stream": (streams_only - before) / streams,
        "kb_per_stream_with_reader": (with_readers - before) / streams,
    }


# ---------------------------------------------------------- relay vs LiteLLM


async def _relay_round(base: str, concurrency: int) -> dict[str, float]:
    import aiohttp

    body = {"model": "openai/bench", "messages": [{"role": "user", "content": "Count."}]}
    body["stream"] = True
    ttfts: list[float] = []
    chunks = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            nonlocal chunks
            started = time.monotonic()
            first = True
            headers = {"authorization": "Bearer sk-bench"}
            async with session.post(base + "/chat/completions", json=body, headers=headers) as r:
                r.raise_for_status()
                async for data in r.content.iter_any():
                    # The first text, not the role-only first chunk.
                    if first and _TEXT.search(data):
                        ttfts.append(time.monotonic() - started)
                        first = False
                    chunks += len(_TEXT.findall(data))

        await asyncio.wait_for(one(), DEADLINE)  # warm-up: imports, pools, first connection
        ttfts.clear()
        chunks = 0
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(concurrency))), DEADLINE)
        wall = time.monotonic() - started
    ttfts.sort()
    return {"wall_s": wall, "ttft_p50_ms": 1000 * ttfts[len(ttfts) // 2], "chunks": chunks}


def relay(concurrency: int, chunks: int) -> dict[str, Any]:
    from ._emulator import emulator

    results: dict[str, Any] = {}
    with emulator(chunks=chunks, tps=200) as emu_url:
        results["direct"] = asyncio.run(_relay_round(emu_url, concurrency))
        port = _free_port()
        env = {**os.environ, "OPENAI_BASE_URL": emu_url, "OPENAI_API_KEY": "bench"}
        config = Path(tempfile.mkdtemp()) / "rill.toml"
        config.write_text("max_streams_per_key = 100000\n")
        argv = [sys.executable, "-m", "rill", "serve", "--no-auth", "--port", str(port)]
        argv += ["--config", str(config), "--log-level", "warning"]
        rill = subprocess.Popen(argv, env=env)
        try:
            _wait_http(f"http://127.0.0.1:{port}/healthz", rill)
            results["rill"] = asyncio.run(_relay_round(f"http://127.0.0.1:{port}/v1", concurrency))
        finally:
            _stop(rill)
            shutil.rmtree(config.parent)
        # LiteLLM's proxy pins its own dependencies, so it may live in a
        # virtualenv of its own: LITELLM names that executable.
        litellm = os.environ.get("LITELLM") or shutil.which(
            "litellm", path=str(Path(sys.executable).parent)
        )
        if litellm is None:
            results["litellm"] = (
                "skipped: LiteLLM's proxy is not installed (pip install 'litellm[proxy]', "
                "or set LITELLM to its executable)"
            )
            return results
        port = _free_port()
        argv = [litellm, "--model", "openai/bench", "--api_base", emu_url, "--port", str(port)]
        proxy = subprocess.Popen(
            argv,
            env={**env, "LITELLM_MASTER_KEY": "sk-bench"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_http(f"http://127.0.0.1:{port}/health/liveliness", proxy)
            results["litellm"] = asyncio.run(
                _relay_round(f"http://127.0.0.1:{port}/v1", concurrency)
            )
        except Exception as exc:  # a peer that will not start is reported, not fatal
            results["litellm"] = f"skipped: LiteLLM's proxy failed ({type(exc).__name__}: {exc})"
        finally:
            _stop(proxy)
    return results


# -------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--processes", type=int, default=1, help="load processes")
    parser.add_argument("--idle", type=int, default=1000, help="idle streams for memory")
    parser.add_argument("--quick", action="store_true", help="200 readers, 100 events")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load, args.ids.split(","), args.readers, args.out)
        return
    if args.quick:
        args.readers, args.events, args.idle = 200, 100, 200
    results: dict[str, Any] = {"fan_out": {}, "idle": {}}
    results["fan_out"]["floor"] = fan_out(
        "floor", args.readers, args.events, args.rate, args.processes
    )
    with _redis() as redis_url:
        stores = {"memory": "memory"}
        if redis_url is not None:
            stores["redis"] = redis_url
        else:
            print("redis: skipped (redis-server is not installed)")
        for name, store in stores.items():
            results["fan_out"][name] = fan_out(
                store, args.readers, args.events, args.rate, args.processes
            )
            results["idle"][name] = idle_memory(store, args.idle)
    results["relay"] = relay(100 if not args.quick else 20, 200)
    _print(results)
    write_results(OUTPUT, results)


def _print(results: dict[str, Any]) -> None:
    print(
        f"\nSSE fan-out: one stream, {next(iter(results['fan_out'].values()))['readers']} readers"
    )
    header = f"{'store':8} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(header + f" {'cpu us/ev':>10}  target")
    for name, r in results["fan_out"].items():
        if name == "floor":
            print(
                f"{name:8} {r['events_per_s']:10.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['max_ms']:8.2f} {r['server_cpu_us_per_event']:10.1f}  "
                "(a bare asyncio server writing to every socket: the machine's floor)"
            )
            continue
        met = "met" if r["p99_ms"] < TARGET_P99_MS[name] else "MISSED"
        print(
            f"{name:8} {r['events_per_s']:10.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['max_ms']:8.2f} {r['server_cpu_us_per_event']:10.1f}  "
            f"p99 < {TARGET_P99_MS[name]:.0f} ms {met}{'' if r['complete'] else ' (INCOMPLETE)'}"
        )
    fan = results["fan_out"]
    for name in ("memory", "redis"):
        if name in fan:
            floor = fan["floor"]
            print(
                f"{name} / floor: p50 {fan[name]['p50_ms'] / floor['p50_ms']:.2f}x, "
                f"p99 {fan[name]['p99_ms'] / floor['p99_ms']:.2f}x, cpu per event "
                f"{fan[name]['server_cpu_us_per_event'] / floor['server_cpu_us_per_event']:.2f}x"
            )
    if "redis" in fan:
        print(
            f"redis / memory: p50 {fan['redis']['p50_ms'] / fan['memory']['p50_ms']:.2f}x, "
            f"p99 {fan['redis']['p99_ms'] / fan['memory']['p99_ms']:.2f}x"
        )
    print("\nMemory per idle open stream (server RSS)")
    for name, r in results["idle"].items():
        met = "met" if r["kb_per_stream_with_reader"] < TARGET_IDLE_KB else "MISSED"
        print(
            f"{name:8} {r['kb_per_stream']:6.1f} KB per stream, "
            f"{r['kb_per_stream_with_reader']:6.1f} KB with its reader connected "
            f"(< {TARGET_IDLE_KB:.0f} KB {met})"
        )
    print("\nOpenAI relay in front of the emulator (concurrent streams of 200 chunks)")
    direct = results["relay"]["direct"]
    for name, r in results["relay"].items():
        if isinstance(r, str):
            print(f"{name:8} {r}")
            continue
        print(
            f"{name:8} wall {r['wall_s']:6.2f} s ({r['wall_s'] / direct['wall_s']:.2f}x direct), "
            f"ttft p50 {r['ttft_p50_ms']:7.1f} ms, chunks {r['chunks']}"
        )
    relay_results = results["relay"]
    if isinstance(relay_results.get("litellm"), dict):
        ratio = relay_results["litellm"]["wall_s"] / relay_results["rill"]["wall_s"]
        print(f"litellm / rill wall: {ratio:.2f}x")


if __name__ == "__main__":
    main()
