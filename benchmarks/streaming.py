"""Client CPU per chunk of a streamed chat completion: rill beside its peers.

``python -m benchmarks.streaming`` (``make bench``) starts the rill emulator in
a separate process, streams the same 10,000-chunk OpenAI Chat Completions
response through every installed client, round-robin, and prints the median
client CPU per chunk and its ratio to a naive httpx + ``json`` floor measured in
the same run; rill and the SDK on the Anthropic Messages protocol, and on OpenAI
text completions (``/completions``), read the same text from the same server.
Then time to first token (fresh process and warm) and the ``import rill`` time.
Results also go to ``benchmarks/results/streaming.json``. See
``benchmarks/README.md`` for the method.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._emulator import emulator
from ._measure import (
    ROOT,
    ImportTime,
    Samples,
    expected_text,
    fresh_ttft,
    import_time,
    throughput,
    warm_ttft,
    write_results,
)
from ._peers import BASE_TWINS, PEERS, Peer, load

FLOOR = "floor"
FRESH_TTFT_CLIENTS = ("floor", "rill-sync", "openai-sync")
RILL = ("rill-sync", "rill-async", "rill-base-sync", "rill-base-async")
RILL_ANTHROPIC = {"rill-anthropic-sync": "rill-sync", "rill-anthropic-async": "rill-async"}
"""Each rill Anthropic client -> the rill OpenAI chat client it is compared with."""
RILL_COMPLETIONS = {"rill-completions-sync": "rill-sync", "rill-completions-async": "rill-async"}
"""Each rill text-completions client -> the rill chat client it is compared with."""
COMPLETIONS_PEERS = {
    "rill-completions-sync": "openai-completions-sync",
    "rill-completions-async": "openai-completions-async",
}
"""Each rill text-completions client -> the SDK's completions stream it is compared with."""
TARGET_COMPLETIONS_RATIO = 1.05
TARGET_COMPLETIONS_SDK = 10.0
TTFT_DELAY = 0.05
"""The TTFT emulator waits this long before its first byte, like a fast provider."""
TTFT_CHUNKS = 100
TARGET_RATIO = 1.0
# Paced one event per write, each chunk costs a read and a wake-up: the target
# is set on the whole CPU figure all the same.
TARGET_PACED_RATIO = 0.8
TARGET_ANTHROPIC_RATIO = 1.2
TARGET_IMPORT = 0.100
TARGET_TTFT_GAP = 0.030
OUTPUT = ROOT / "benchmarks" / "results" / "streaming.json"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    chunks = args.chunks or (2_000 if args.quick else 10_000)
    rounds = args.rounds or (2 if args.quick else 5)
    repeats = 3 if args.quick else 5

    peers, status = _load(args.clients)
    if FLOOR not in peers:
        print(f"the floor client is required: {status.get(FLOOR, 'not selected')}")
        return 1
    if args.profile:
        return _profile(peers, args.profile, chunks, args.tps)

    expected = expected_text(chunks)
    print(_heading(chunks, rounds, args.tps), flush=True)
    with emulator(chunks=chunks, tps=args.tps) as url, _opened(peers, url):
        for name, error in _warm_up(peers, expected).items():
            status[name] = error
            del peers[name]
        samples = throughput(peers, rounds=rounds, expected=expected)

    with emulator(chunks=TTFT_CHUNKS, ttft=TTFT_DELAY) as url:
        with _opened(peers, url):
            warm = warm_ttft(peers, repeats=repeats)
        fresh = fresh_ttft([n for n in FRESH_TTFT_CLIENTS if n in peers], url, repeats=3)

    imports = import_time(repeats=5)

    results = _results(peers, status, samples, warm, fresh, imports, chunks, rounds, args.tps)
    _print(results, imports, verbose=args.verbose)
    write_results(args.output, results)
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.streaming", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--chunks", type=int, help="text pieces per stream (default 10000)")
    parser.add_argument("--rounds", type=int, help="timed streams per client (default 5)")
    parser.add_argument("--quick", action="store_true", help="2,000 chunks, 2 rounds: a smoke run")
    parser.add_argument(
        "--clients",
        type=lambda text: text.split(","),
        default=list(PEERS),
        help=f"comma-separated subset of: {','.join(PEERS)}",
    )
    parser.add_argument(
        "--tps",
        type=float,
        help="pace the server at this many events per second, one write each (default: "
        "full speed, events batched into 64 KiB writes)",
    )
    parser.add_argument(
        "--profile", metavar="CLIENT", help="profile one stream of CLIENT with cProfile, then stop"
    )
    parser.add_argument("--verbose", action="store_true", help="also show the slowest imports")
    parser.add_argument("--output", default=str(OUTPUT), help="JSON file (default: %(default)s)")
    args = parser.parse_args(argv)
    unknown = set(args.clients) - set(PEERS) | ({args.profile} - set(PEERS) - {None})
    if unknown:
        parser.error(f"unknown client(s): {', '.join(sorted(unknown))}")
    return args


def _load(names: list[str]) -> tuple[dict[str, Peer], dict[str, str]]:
    """Import each selected client's library; a missing one is noted and skipped."""
    return load(PEERS, [FLOOR, *names])


@contextmanager
def _opened(peers: dict[str, Peer], url: str) -> Iterator[None]:
    opened = []
    try:
        for peer in peers.values():
            peer.open(url)
            opened.append(peer)
        yield
    finally:
        for peer in opened:
            peer.close()


def _warm_up(peers: dict[str, Peer], expected: str) -> dict[str, str]:
    """Read one stream with each peer; return the peers (never the floor or rill) that failed."""
    failed = {}
    for name, peer in peers.items():
        try:
            text = peer.read()
        except Exception as exc:
            if name == FLOOR or name in RILL or name in RILL_ANTHROPIC or name in RILL_COMPLETIONS:
                raise
            failed[name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        if text != expected:
            raise RuntimeError(f"{name}: {len(text)} characters of text, expected {len(expected)}")
    return failed


def _profile(peers: dict[str, Peer], name: str, chunks: int, tps: float | None) -> int:
    if name not in peers:
        print(f"{name} is not available")
        return 1
    peer = peers[name]
    with emulator(chunks=chunks, tps=tps) as url, _opened({name: peer}, url):
        peer.read()
        profiler = cProfile.Profile()
        profiler.runcall(peer.read)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(20)
    return 0


def _heading(chunks: int, rounds: int, tps: float | None) -> str:
    pace = f"paced at {tps:,.0f} events/s" if tps else "full speed"
    return (
        f"rill streaming benchmark: {chunks:,} chunks per stream ({pace}), {rounds} timed rounds; "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}\n"
    )


def _results(
    peers: dict[str, Peer],
    status: dict[str, str],
    samples: dict[str, Samples],
    warm: dict[str, float],
    fresh: dict[str, float],
    imports: ImportTime,
    chunks: int,
    rounds: int,
    tps: float | None,
) -> dict[str, Any]:
    floor = samples[FLOOR].cpu_median
    clients: dict[str, Any] = {}
    for name, state in status.items():
        entry: dict[str, Any] = {"name": PEERS[name].name, "status": state}
        if name in peers:
            entry["version"] = PEERS[name].version()
        if name in samples:
            measured = samples[name]
            entry |= {
                "cpu_us_per_chunk": measured.cpu_median / chunks * 1e6,
                "ratio_to_floor": measured.cpu_median / floor,
                "user_us_per_chunk": measured.user_median / chunks * 1e6,
                "user_ratio_to_floor": measured.user_median / samples[FLOOR].user_median,
                "cpu_user_s": measured.user,
                "wall_ms": measured.wall_median * 1e3,
                "cpu_s": measured.cpu,
                "wall_s": measured.wall,
            }
            twin = RILL_ANTHROPIC.get(name)
            if twin in samples:
                entry["ratio_to_rill_openai"] = measured.cpu_median / samples[twin].cpu_median
            chat = RILL_COMPLETIONS.get(name)
            if chat in samples:
                entry["ratio_to_rill_chat"] = measured.cpu_median / samples[chat].cpu_median
            sdk = COMPLETIONS_PEERS.get(name)
            if sdk in samples:
                entry["sdk_ratio"] = samples[sdk].cpu_median / measured.cpu_median
            base = BASE_TWINS.get(name)
            if base in samples:
                entry["ratio_to_base"] = measured.cpu_median / samples[base].cpu_median
        if name in warm:
            entry["ttft_warm_ms"] = warm[name] * 1e3
        if name in fresh:
            entry["ttft_fresh_ms"] = fresh[name] * 1e3
        clients[name] = entry
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "chunks": chunks,
        "rounds": rounds,
        "events_per_second": tps,
        "ttft_server_delay_ms": TTFT_DELAY * 1e3,
        "clients": clients,
        "import_rill_ms": imports.median * 1e3,
        "import_rill_importtime_ms": imports.self_reported * 1e3,
        "targets": {
            "rill_ratio_to_floor_max": TARGET_PACED_RATIO if tps else TARGET_RATIO,
            "rill_anthropic_ratio_to_rill_openai_max": TARGET_ANTHROPIC_RATIO,
            "rill_completions_ratio_to_rill_chat_max": TARGET_COMPLETIONS_RATIO,
            "openai_completions_ratio_to_rill_completions_min": TARGET_COMPLETIONS_SDK,
            "import_rill_ms_max": TARGET_IMPORT * 1e3,
            "fresh_ttft_gap_to_httpx_ms_max": TARGET_TTFT_GAP * 1e3,
        },
    }


def _print(results: dict[str, Any], imports: ImportTime, *, verbose: bool) -> None:
    clients = results["clients"]
    print(
        f"{'client':<28} {'version':<9} {'CPU µs/chunk':>12} {'x floor':>8}"
        f" {'user µs':>8} {'x floor':>8} {'wall ms':>8}"
    )
    for name, entry in clients.items():
        label = f"{entry['name']:<28} {entry.get('version', ''):<9}"
        if "cpu_us_per_chunk" not in entry:
            print(f"{label} {entry['status']}")
            continue
        ratio = entry["ratio_to_floor"]
        line = (
            f"{label} {entry['cpu_us_per_chunk']:>12.2f} {ratio:>7.2f}x"
            f" {entry['user_us_per_chunk']:>8.2f} {entry['user_ratio_to_floor']:>7.2f}x"
            f" {entry['wall_ms']:>8.0f}"
        )
        if name in RILL:
            target = results["targets"]["rill_ratio_to_floor_max"]
            line += f"   target ≤ {target:.1f}x: {_verdict(ratio <= target)}"
        print(line)

    compared = [(n, e) for n, e in clients.items() if "ratio_to_rill_openai" in e]
    if compared:
        print(f"\nrill anthropic ≤ {TARGET_ANTHROPIC_RATIO:.1f}x rill OpenAI chat (CPU per chunk)")
    for name, entry in compared:
        ratio = entry["ratio_to_rill_openai"]
        twin = clients[RILL_ANTHROPIC[name]]["name"]
        met = ratio <= TARGET_ANTHROPIC_RATIO
        print(f"{entry['name']:<20} / {twin:<10} {ratio:>5.2f}x   {_verdict(met)}")

    completions = [(n, e) for n, e in clients.items() if "ratio_to_rill_chat" in e]
    if completions:
        print(
            f"\nrill text completions ≤ {TARGET_COMPLETIONS_RATIO:.2f}x rill chat, and the openai "
            f"SDK's completions stream ≥ {TARGET_COMPLETIONS_SDK:.0f}x rill (CPU per chunk)"
        )
    for name, entry in completions:
        ratio = entry["ratio_to_rill_chat"]
        twin = clients[RILL_COMPLETIONS[name]]["name"]
        line = f"{entry['name']:<24} / {twin:<10} {ratio:>5.2f}x   "
        line += _verdict(ratio <= TARGET_COMPLETIONS_RATIO)
        if "sdk_ratio" in entry:
            sdk = entry["sdk_ratio"]
            met = sdk >= TARGET_COMPLETIONS_SDK
            line += f";  SDK / rill {sdk:>5.1f}x   {_verdict(met)}"
        print(line)

    against_base = [(n, e) for n, e in clients.items() if "ratio_to_base" in e]
    if against_base:
        print("\nthis tree / the base commit (CPU per chunk, same run; below 1 is faster)")
    for name, entry in against_base:
        base = clients[BASE_TWINS[name]]["name"]
        print(f"{entry['name']:<20} / {base:<16} {entry['ratio_to_base']:>5.2f}x")

    delay = results["ttft_server_delay_ms"]
    print(f"\ntime to first token (the server waits {delay:.0f} ms before its first byte)")
    print(f"{'client':<28} {'fresh process':>14} {'warm':>8}")
    floor_fresh = clients[FLOOR].get("ttft_fresh_ms")
    for name, entry in clients.items():
        if "ttft_warm_ms" not in entry:
            continue
        fresh = entry.get("ttft_fresh_ms")
        cell = f"{fresh:>11.1f} ms" if fresh is not None else f"{'-':>14}"
        line = f"{entry['name']:<28} {cell} {entry['ttft_warm_ms']:>5.1f} ms"
        if fresh is not None and floor_fresh is not None and name != FLOOR:
            gap = fresh - floor_fresh
            line += f"   {gap:+.1f} ms vs httpx"
            if name in RILL:
                met = gap <= TARGET_TTFT_GAP * 1e3
                line += f"; target ≤ +{TARGET_TTFT_GAP * 1e3:.0f} ms: {_verdict(met)}"
        print(line)

    met = imports.median <= TARGET_IMPORT
    print(
        f"\nimport rill: {imports.median * 1e3:.0f} ms (median of {len(imports.runs)} fresh "
        f"interpreters minus bare start-up; -X importtime: {imports.self_reported * 1e3:.0f} ms)"
        f"   target < {TARGET_IMPORT * 1e3:.0f} ms: {_verdict(met)}"
    )
    if verbose:
        print("largest cumulative imports under `import rill` (-X importtime):")
        for seconds, module in imports.top:
            print(f"  {seconds * 1e3:7.1f} ms  {module}")


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
