"""Client CPU of structured streaming, from a 1 KB to a 1 MB object: does it stay linear?

``python -m benchmarks.structured`` streams one pydantic report per size (JSON
text in 4-character pieces, OpenAI Chat Completions SSE from an emulator in a
separate process) through rill's ``stream_object`` and its peers, round-robin,
and prints each client's median CPU per stream, its ratio to a floor that only
validates the finished text, and the scaling exponent between sizes. Then,
against a paced server, when each client showed its first partial object.
Results also go to ``benchmarks/results/structured.json``. See
``benchmarks/README.md`` for the method.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import os
import platform
import pstats
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from pydantic_core import to_json

from ._document import PIECE, Report, document, pieces, sse_body
from ._emulator import server
from ._measure import ROOT, Samples, write_results
from ._meter import Meter
from ._peers import load
from ._structured_peers import PEERS, FirstPartial, StructuredPeer

FLOOR = "floor"
RILL = ("rill-sync", "rill-async", "rill-base-sync", "rill-base-async")
SIZES = {"1KB": 1_000, "10KB": 10_000, "100KB": 100_000, "1MB": 1_000_000}
QUICK_SIZES = ("1KB", "10KB", "100KB")
BUDGET = 20.0
"""Seconds of timed streams per client per size; also the limit on one stream."""
FIRST_SIZE = "1KB"
FIRST_TPS = 1_000.0
TARGET_RATIO = 2.0
TARGET_EXPONENT = 1.1
TARGET_FIRST_CHUNKS = 1
OUTPUT = ROOT / "benchmarks" / "results" / "structured.json"


class OverBudget(Exception):
    """One stream ran past the budget; raised from SIGALRM in the main thread."""


@dataclass
class Plan:
    """How one client fares at one size: measured, or why not."""

    rounds: int = 0
    samples: Samples = field(default_factory=Samples)
    exponent: float | None = None
    """log(cpu / previous cpu) / log(size / previous size), medians."""
    note: str = ""


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sizes = args.sizes or list(QUICK_SIZES if args.quick else SIZES)
    rounds = args.rounds or (2 if args.quick else 5)
    budget = args.budget or (5.0 if args.quick else BUDGET)

    peers, status = load(PEERS, [FLOOR, *args.clients])
    if FLOOR not in peers:
        print(f"the floor client is required: {status.get(FLOOR, 'not selected')}")
        return 1
    if args.profile:
        return _profile(peers, args.profile, SIZES[args.profile_size])

    print(_heading(sizes, rounds, budget), flush=True)
    texts = {label: document(SIZES[label]) for label in sizes}
    plans: dict[str, dict[str, Plan]] = {}
    previous: tuple[str, dict[str, Plan]] | None = None
    for label in sizes:
        plans[label] = _measure_size(
            peers, texts, label, previous, rounds=rounds, budget=budget, warm_up=previous is None
        )
        _print_size(label, texts[label], plans[label])
        previous = label, plans[label]

    first = _first_partials(peers, SIZES[args.first_size], args.first_tps)
    _print_first(first, args.first_size, args.first_tps)

    results = _results(peers, status, texts, plans, first, rounds, budget, args)
    write_results(args.output, results)
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.structured", description=__doc__.splitlines()[0]
    )
    sizes = ",".join(SIZES)
    parser.add_argument(
        "--sizes",
        type=lambda text: text.split(","),
        help=f"comma-separated subset of {sizes} (default: all; --quick: 1KB,10KB,100KB)",
    )
    parser.add_argument("--rounds", type=int, help="timed streams per client and size (default 5)")
    parser.add_argument(
        "--quick", action="store_true", help="up to 100 KB, 2 rounds, a 5 s budget: a smoke run"
    )
    parser.add_argument(
        "--clients",
        type=lambda text: text.split(","),
        default=list(PEERS),
        help=f"comma-separated subset of: {','.join(PEERS)}",
    )
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds of timed streams per client and size, and the limit on one stream; a "
        f"client predicted to need more at the next size is skipped there (default {BUDGET:.0f})",
    )
    parser.add_argument("--first-size", default=FIRST_SIZE, choices=list(SIZES))
    parser.add_argument(
        "--first-tps",
        type=float,
        default=FIRST_TPS,
        help="events per second of the paced server for the first-partial measurement "
        "(default %(default).0f)",
    )
    parser.add_argument(
        "--profile", metavar="CLIENT", help="profile one stream of CLIENT with cProfile, then stop"
    )
    parser.add_argument("--profile-size", default="100KB", choices=list(SIZES))
    parser.add_argument("--output", default=str(OUTPUT), help="JSON file (default: %(default)s)")
    args = parser.parse_args(argv)
    unknown = set(args.clients) - set(PEERS) | ({args.profile} - set(PEERS) - {None})
    unknown |= set(args.sizes or ()) - set(SIZES)
    if unknown:
        parser.error(f"unknown client(s) or size(s): {', '.join(sorted(unknown))}")
    if args.sizes:
        args.sizes = sorted(set(args.sizes), key=lambda label: SIZES[label])
    return args


# --------------------------------------------------------------- measuring


@contextmanager
def _serving(size: int, tps: float | None = None) -> Iterator[str]:
    argv = [sys.executable, "-m", "benchmarks._structured_server", "--size", str(size)]
    if tps:
        argv += ["--tps", str(tps)]
    with server(argv) as url:
        yield url


def _measure_size(
    peers: dict[str, StructuredPeer],
    texts: dict[str, str],
    label: str,
    previous: tuple[str, dict[str, Plan]] | None,
    *,
    rounds: int,
    budget: float,
    warm_up: bool,
) -> dict[str, Plan]:
    """Every client that fits the budget streams the ``label`` report ``rounds``
    times (fewer if slow), round-robin, the order rotated every round."""
    text = texts[label]
    expected = Report.model_validate_json(text)
    growth = len(text) / len(texts[previous[0]]) if previous else 1.0
    plans = {name: _plan(name, previous, growth, rounds, budget) for name in peers}
    active = [name for name in peers if plans[name].rounds]
    with _serving(SIZES[label]) as url:
        opened = []
        try:
            for name in active:
                peers[name].open(url)
                opened.append(name)
            if warm_up:
                for name in list(active):
                    if not _stream(peers[name], expected, budget, plans[name], name, timed=False):
                        active.remove(name)
            for round_ in range(rounds):
                # A client whose streams at this size already took the budget stops here.
                names = [
                    name
                    for name in active
                    if plans[name].rounds > round_ and sum(plans[name].samples.wall) < budget
                ]
                shift = round_ % len(names) if names else 0
                for name in names[shift:] + names[:shift]:
                    if not _stream(peers[name], expected, budget, plans[name], name, timed=True):
                        active.remove(name)
        finally:
            for name in opened:
                with suppress(Exception):  # a client aborted mid-stream may not close cleanly
                    peers[name].close()
    if previous is not None:
        for name, plan in plans.items():
            before = previous[1][name].samples
            if before.cpu and plan.samples.cpu:
                ratio = plan.samples.cpu_median / before.cpu_median
                plan.exponent = math.log(ratio) / math.log(growth)
    return plans


def _plan(
    name: str,
    previous: tuple[str, dict[str, Plan]] | None,
    growth: float,
    rounds: int,
    budget: float,
) -> Plan:
    """Rounds for one client at the next size: its time at the previous size
    scaled by its exponent so far (at least 1), so a client that would need
    more than the budget is skipped, and a slow one gets fewer rounds."""
    if previous is None:
        return Plan(rounds=rounds)
    label, plans = previous
    before = plans[name]
    if not before.samples.cpu:
        return Plan(note=f"skipped: see {_label(label)}")
    exponent = max(1.0, before.exponent or 1.0)
    predicted = before.samples.cpu_median * growth**exponent
    if predicted > budget:
        return Plan(
            note=f"skipped: ~{predicted:.0f} s per stream predicted from "
            f"{before.samples.cpu_median:.1f} s at {_label(label)} and exponent {exponent:.2f}"
        )
    return Plan(rounds=max(1, min(rounds, int(budget // predicted))))


def _stream(
    peer: StructuredPeer, expected: Report, budget: float, plan: Plan, name: str, *, timed: bool
) -> bool:
    """One stream; False (with a note) if it ran out of time. A wrong object stops the run."""
    gc.collect()  # leave no garbage from the previous client to this one
    wall = time.perf_counter()
    cpu = time.process_time()
    try:
        with _deadline(budget):
            result = peer.read()
    except OverBudget:
        plan.note = f"over budget: a stream took more than {budget:.0f} s"
        plan.samples = Samples()
        return False
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    if result != expected:
        raise RuntimeError(f"{name}: the object differs from the one the server sent")
    if timed:
        plan.samples.cpu.append(cpu)
        plan.samples.wall.append(wall)
    return True


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise OverBudget

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class First:
    """One client's first partial against the paced server."""

    chunks_before: int
    """Text chunks the HTTP layer had received when the first partial reached the caller."""
    first_ms: float
    last_byte_ms: float
    partial: FirstPartial


def _first_partials(peers: dict[str, StructuredPeer], size: int, tps: float) -> dict[str, First]:
    """One paced stream per client that shows partial objects."""
    text = document(size)
    chunks = len(pieces(text))
    _, event_length = sse_body(text)
    meter = Meter()
    results = {}
    with _serving(size, tps) as url:
        for name, peer in peers.items():
            if not peer.partials:
                continue
            peer.open(url, meter)
            try:
                meter.reset()
                start = time.perf_counter()
                with _deadline(max(60.0, 5 * chunks / tps)):
                    seen = peer.first()
            except OverBudget:
                continue
            finally:
                with suppress(Exception):
                    peer.close()
            results[name] = First(
                chunks_before=min(seen.received // event_length, chunks),
                first_ms=(seen.at - start) * 1e3,
                last_byte_ms=(meter.last - start) * 1e3,
                partial=seen,
            )
    return results


def _profile(peers: dict[str, StructuredPeer], name: str, size: int) -> int:
    if name not in peers:
        print(f"{name} is not available")
        return 1
    peer = peers[name]
    with _serving(size) as url:
        peer.open(url)
        try:
            peer.read()
            profiler = cProfile.Profile()
            profiler.runcall(peer.read)
        finally:
            peer.close()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(25)
    return 0


# --------------------------------------------------------------- reporting


def _label(label: str) -> str:
    return label.replace("KB", " KB").replace("MB", " MB")


def _heading(sizes: list[str], rounds: int, budget: float) -> str:
    return (
        f"rill structured streaming benchmark: a report of {', '.join(map(_label, sizes))} "
        f"of JSON in {PIECE}-character pieces (full speed), up to {rounds} timed rounds, "
        f"{budget:.0f} s per client and size; {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


def _print_size(label: str, text: str, plans: dict[str, Plan]) -> None:
    chunks = len(pieces(text))
    floor = plans[FLOOR].samples
    print(f"\n{_label(label)}: {len(text):,} characters, {chunks:,} chunks")
    print(
        f"{'client':<27} {'version':<8} {'CPU ms':>9} {'µs/chunk':>9} {'x floor':>8} "
        f"{'exponent':>8} {'rounds':>6}"
    )
    for name, plan in plans.items():
        head = f"{PEERS[name].name:<27} {PEERS[name].version():<8}"
        if not plan.samples.cpu:
            print(f"{head} {plan.note}")
            continue
        cpu = plan.samples.cpu_median
        ratio = cpu / floor.cpu_median if floor.cpu else math.nan
        exponent = plan.exponent
        cell = f"{exponent:>8.2f}" if exponent is not None else f"{'-':>8}"
        line = (
            f"{head} {cpu * 1e3:>9.1f} {cpu / chunks * 1e6:>9.2f} {ratio:>7.2f}x "
            f"{cell} {len(plan.samples.cpu):>6}"
        )
        if name in RILL:
            line += f"   ≤ {TARGET_RATIO:.0f}x floor: {_verdict(ratio <= TARGET_RATIO)}"
            if exponent is not None:
                line += f"; exponent ≤ {TARGET_EXPONENT}: {_verdict(exponent <= TARGET_EXPONENT)}"
        print(line)


def _print_first(first: dict[str, First], label: str, tps: float) -> None:
    text = document(SIZES[label])
    chunks = len(pieces(text))
    print(
        f"\nfirst partial object ({_label(label)} report, {chunks:,} chunks paced at "
        f"{tps:,.0f} events/s): text chunks the HTTP layer had received when the first "
        f"partial reached the caller"
    )
    print(f"{'client':<27} {'chunks received':>16} {'first partial':>14} {'last byte':>10}")
    for name, entry in first.items():
        before = "before the end" if entry.first_ms < entry.last_byte_ms else "after the end"
        print(
            f"{PEERS[name].name:<27} {entry.chunks_before:>7,} of {chunks:<6,} "
            f"{entry.first_ms:>11.1f} ms {entry.last_byte_ms:>7.1f} ms   {before}"
        )
    complete_at = _first_value_chunk(text)
    for name in RILL:
        if name not in first:
            continue
        partial = first[name].partial
        if partial.text_at_first is None or partial.text_at_complete is None:
            continue
        shown = math.ceil(partial.text_at_complete / PIECE)
        met = partial.first_complete == "title" and shown - complete_at <= TARGET_FIRST_CHUNKS
        at_first = math.ceil(partial.text_at_first / PIECE)
        print(
            f"{PEERS[name].name}: first partial at chunk {at_first}; "
            f'"title" complete in the text at chunk {complete_at}, shown complete '
            f"({partial.first_complete!r}) at chunk {shown}   "
            f"target within {TARGET_FIRST_CHUNKS} chunk: {_verdict(met)}"
        )


def _first_value_chunk(text: str) -> int:
    """The chunk (1-based) that carries the closing quote of the title."""
    report = Report.model_validate_json(text)
    end = len('{"title":') + len(to_json(report.title))
    assert text[:end] == '{"title":' + to_json(report.title).decode()
    return math.ceil(end / PIECE)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _results(
    peers: dict[str, StructuredPeer],
    status: dict[str, str],
    texts: dict[str, str],
    plans: dict[str, dict[str, Plan]],
    first: dict[str, First],
    rounds: int,
    budget: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    sizes = list(texts)
    clients: dict[str, Any] = {}
    for name, state in status.items():
        entry: dict[str, Any] = {"name": PEERS[name].name, "status": state, "sizes": {}}
        if name in peers:
            entry["version"] = PEERS[name].version()
        for label in sizes:
            if name not in plans[label]:
                continue
            plan = plans[label][name]
            floor = plans[label][FLOOR].samples
            cell: dict[str, Any] = {"note": plan.note} if plan.note else {}
            if plan.samples.cpu:
                cell |= {
                    "cpu_ms": plan.samples.cpu_median * 1e3,
                    "ratio_to_floor": plan.samples.cpu_median / floor.cpu_median,
                    "exponent_from_previous_size": plan.exponent,
                    "cpu_s": plan.samples.cpu,
                    "wall_s": plan.samples.wall,
                }
            entry["sizes"][label] = cell
        if name in first:
            entry["first_partial"] = {
                "chunks_received": first[name].chunks_before,
                "first_partial_ms": first[name].first_ms,
                "last_byte_ms": first[name].last_byte_ms,
                "text_chars_at_first_partial": first[name].partial.text_at_first,
                "text_chars_at_first_complete": first[name].partial.text_at_complete,
                "first_complete_path": first[name].partial.first_complete,
            }
        clients[name] = entry
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "piece_characters": PIECE,
        "sizes": {label: {"characters": len(texts[label])} for label in sizes},
        "rounds": rounds,
        "budget_s": budget,
        "first_partial": {
            "size": args.first_size,
            "events_per_second": args.first_tps,
            "title_complete_at_chunk": _first_value_chunk(document(SIZES[args.first_size])),
        },
        "clients": clients,
        "targets": {
            "rill_ratio_to_floor_max": TARGET_RATIO,
            "rill_exponent_max": TARGET_EXPONENT,
            "rill_first_complete_within_chunks": TARGET_FIRST_CHUNKS,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
