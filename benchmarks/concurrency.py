"""Many paced streams at once on one event loop: rill beside raw aiohttp, raw
httpx and the openai SDK.

``python -m benchmarks.concurrency`` starts the rill emulator in a separate
process (pinned to CPU 1 where there are two) serving an OpenAI Chat
Completions stream of ``--chunks`` (200) pieces, one write every
``--interval`` (10 ms), so a stream ideally takes 2.0 s however many run at
once. For each concurrency C (100, 500, 1000) and each client, a fresh worker
process pinned to CPU 0 opens C streams at once on one event loop and reads
them to the end; it reports the wall time, its own CPU time (so CPU per chunk),
the 99th percentile of the streams' durations, and its peak RSS above what it
had after its imports. Every stream's text is checked. Results also go to
``benchmarks/results/concurrency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._emulator import server
from ._measure import ROOT, expected_text, write_results

MODEL = "bench"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Count."}], "stream": True}
OUTPUT = ROOT / "benchmarks" / "results" / "concurrency.json"
BASELINE = "aiohttp-raw"
RILL_DEFAULT = "rill-async"
TARGET_WALL = 1.15
TARGET_CPU = 1.2
TARGET_AT = 500

StreamOnce = Callable[[], Awaitable[str]]


# ---------------------------------------------------------------- the clients


async def _aiohttp_raw(url: str) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def once() -> str:
        parts: list[str] = []
        buffer = b""
        async with session.post(url + "/chat/completions", json=BODY) as response:
            async for data in response.content.iter_any():
                buffer += data
                *events, buffer = buffer.split(b"\n\n")
                for event in events:
                    if event.startswith(b"data: {"):
                        choices = json.loads(event[6:])["choices"]
                        if choices:
                            parts.append(choices[0]["delta"].get("content") or "")
        return "".join(parts)

    return once, session.close


async def _httpx_raw(url: str) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None))

    async def once() -> str:
        parts: list[str] = []
        async with client.stream("POST", url + "/chat/completions", json=BODY) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    choices = json.loads(line[6:])["choices"]
                    if choices:
                        parts.append(choices[0]["delta"].get("content") or "")
        return "".join(parts)

    return once, client.aclose


async def _rill(url: str, client: Any = None) -> StreamOnce:
    import rill

    async def once() -> str:
        parts: list[str] = []
        async with rill.agenerate_stream(
            "Count.", model="openai/" + MODEL, base_url=url, api_key="x", http_client=client
        ) as stream:
            async for chunk in stream:
                parts.append(chunk.content)
        return "".join(parts)

    return once


async def _rill_default(url: str) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    async def nothing() -> None:
        pass

    return await _rill(url), nothing


async def _rill_httpx(url: str) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None))
    return await _rill(url, client), client.aclose


async def _openai(url: str, aiohttp: bool) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    import openai

    http = openai.DefaultAioHttpClient() if aiohttp else None
    client = openai.AsyncOpenAI(base_url=url, api_key="x", http_client=http, max_retries=0)

    async def once() -> str:
        parts: list[str] = []
        stream = await client.chat.completions.create(
            model=MODEL, messages=BODY["messages"], stream=True
        )
        async for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
        return "".join(parts)

    return once, client.close


async def _openai_default(url: str) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    return await _openai(url, aiohttp=False)


async def _openai_aiohttp(url: str) -> tuple[StreamOnce, Callable[[], Awaitable[None]]]:
    return await _openai(url, aiohttp=True)


CLIENTS: dict[str, tuple[str, Callable[[str], Awaitable[Any]]]] = {
    "aiohttp-raw": ("raw aiohttp", _aiohttp_raw),
    "httpx-raw": ("raw httpx async", _httpx_raw),
    "rill-async": ("rill, defaults", _rill_default),
    "rill-httpx": ("rill, user httpx client", _rill_httpx),
    "openai": ("openai SDK", _openai_default),
    "openai-aiohttp": ("openai SDK, aiohttp", _openai_aiohttp),
}


# ------------------------------------------------------------------ a worker


def _worker(name: str, concurrency: int, url: str, chunks: int) -> dict[str, Any]:
    _pin(0)
    return asyncio.run(_work(name, concurrency, url, chunks))


async def _work(name: str, concurrency: int, url: str, chunks: int) -> dict[str, Any]:
    once, close = await CLIENTS[name][1](url)
    expected = expected_text(chunks)
    if await once() != expected:  # warm: imports, first connection
        raise RuntimeError(f"{name}: wrong text")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    durations: list[float] = []

    async def timed() -> str:
        start = time.perf_counter()
        text = await once()
        durations.append(time.perf_counter() - start)
        return text

    cpu = time.process_time()
    wall = time.perf_counter()
    texts = await asyncio.gather(*(timed() for _ in range(concurrency)))
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    await close()
    bad = sum(text != expected for text in texts)
    if bad:
        raise RuntimeError(f"{name}: {bad} of {concurrency} streams had the wrong text")
    durations.sort()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_us_per_chunk": cpu / (concurrency * chunks) * 1e6,
        "p99_stream_s": durations[min(len(durations) - 1, int(len(durations) * 0.99))],
        "median_stream_s": statistics.median(durations),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
    }


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


# -------------------------------------------------------------- the harness


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.worker:
        name, concurrency, url, chunks = args.worker
        print(json.dumps(_worker(name, int(concurrency), url, int(chunks))))
        return 0
    tps = 1.0 / args.interval
    ideal = args.chunks * args.interval
    argv_server = [sys.executable, "-m", "rill.testing", "--port", "0"]
    argv_server += ["--chunks", str(args.chunks), "--tps", str(tps)]
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        argv_server = ["taskset", "-c", "1", *argv_server]
    print(
        f"rill concurrency benchmark: C streams at once of {args.chunks} chunks, one every "
        f"{args.interval * 1e3:.0f} ms (ideal wall {ideal:.1f} s); client on CPU 0, server "
        f"on CPU 1; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n",
        flush=True,
    )
    results: dict[str, Any] = {"chunks": args.chunks, "interval_s": args.interval, "runs": {}}
    with server(argv_server) as url:
        for concurrency in args.concurrency:
            rows = results["runs"][str(concurrency)] = {}
            for name in args.clients:
                rows[name] = _run_worker(name, concurrency, url, args.chunks)
            _print(concurrency, rows, ideal)
    write_results(args.output, results)
    return 0


def _run_worker(name: str, concurrency: int, url: str, chunks: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.concurrency", "--worker", name]
    argv += [str(concurrency), url, str(chunks)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": last[:160]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _print(concurrency: int, rows: dict[str, Any], ideal: float) -> None:
    base = rows.get(BASELINE, {})
    print(f"C = {concurrency}")
    head = f"{'client':<26} {'wall s':>7} {'x ideal':>8} {'CPU µs/chunk':>12}"
    print(f"{head} {'x aiohttp':>9} {'p99 s':>6} {'RSS +MB':>8}")
    for name, row in rows.items():
        label = f"{CLIENTS[name][0]:<26}"
        if "error" in row:
            print(f"{label} failed: {row['error']}")
            continue
        ratio = row["cpu_us_per_chunk"] / base["cpu_us_per_chunk"] if "wall_s" in base else None
        line = (
            f"{label} {row['wall_s']:>7.2f} {row['wall_s'] / ideal:>7.2f}x "
            f"{row['cpu_us_per_chunk']:>12.1f} {(f'{ratio:.2f}x' if ratio else '-'):>9} "
            f"{row['p99_stream_s']:>6.2f} {row['rss_growth_mb']:>8.1f}"
        )
        if name == RILL_DEFAULT and concurrency == TARGET_AT and "wall_s" in base:
            wall_ratio = row["wall_s"] / base["wall_s"]
            met = wall_ratio <= TARGET_WALL and ratio is not None and ratio <= TARGET_CPU
            line += (
                f"   wall {wall_ratio:.2f}x aiohttp (target ≤ {TARGET_WALL}x), CPU "
                f"{ratio:.2f}x (≤ {TARGET_CPU}x): {'met' if met else 'MISSED'}"
            )
        print(line)
    print(flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.concurrency", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(c) for c in text.split(",")],
        default=[100, 500, 1000],
        help="comma-separated stream counts (default 100,500,1000)",
    )
    parser.add_argument("--chunks", type=int, default=200, help="chunks per stream (200)")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between chunks")
    parser.add_argument(
        "--clients",
        type=lambda text: text.split(","),
        default=list(CLIENTS),
        help=f"comma-separated subset of: {','.join(CLIENTS)}",
    )
    parser.add_argument("--output", default=str(OUTPUT), help="JSON file (default: %(default)s)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.clients) - set(CLIENTS)
    if unknown:
        parser.error(f"unknown client(s): {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    sys.exit(main())
