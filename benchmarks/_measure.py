"""The measurements: per-chunk CPU, time to first token, import time.

Nothing here asserts on a timing; it only collects figures. The one check is
that every client produced exactly the text the server sent.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._peers import Peer

__all__ = [
    "ImportTime",
    "Samples",
    "expected_text",
    "fresh_ttft",
    "import_time",
    "throughput",
    "warm_ttft",
]

ROOT = Path(__file__).resolve().parent.parent
_CHILD_TIMEOUT = 60.0


@dataclass
class Samples:
    """One client's per-stream figures, in seconds."""

    cpu: list[float] = field(default_factory=list)
    user: list[float] = field(default_factory=list)
    """The user-space part of ``cpu``: what the client's own code costs. The
    rest is the kernel's (reads, wake-ups), the same for every client that
    reads the same bytes in the same reads."""
    wall: list[float] = field(default_factory=list)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def user_median(self) -> float:
        return statistics.median(self.user)

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)


@dataclass
class ImportTime:
    """``import rill`` in a fresh interpreter, in seconds."""

    median: float
    runs: list[float]
    baseline: list[float]
    self_reported: float
    """rill's cumulative time as ``-X importtime`` reports it (no process start-up)."""
    top: list[tuple[float, str]]
    """The largest cumulative entries under ``import rill``: (seconds, module)."""


def expected_text(chunks: int) -> str:
    """What ``python -m rill.testing --chunks N`` streams: one piece per word."""
    return " ".join(f"w{i}" for i in range(chunks))


def throughput(peers: dict[str, Peer], *, rounds: int, expected: str) -> dict[str, Samples]:
    """Read ``rounds`` streams with each (already warmed) client, round-robin.

    The order rotates every round, so drift in machine load and the position
    after a particular neighbour hit every client alike.
    """
    results = {name: Samples() for name in peers}
    names = list(peers)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()  # leave no garbage from the previous client to this one
            wall = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_SELF)
            text = peers[name].read()
            after = resource.getrusage(resource.RUSAGE_SELF)
            user = after.ru_utime - before.ru_utime
            cpu = user + after.ru_stime - before.ru_stime
            wall = time.perf_counter() - wall
            if text != expected:
                raise RuntimeError(f"{name}: {len(text)} characters, expected {len(expected)}")
            results[name].cpu.append(cpu)
            results[name].user.append(user)
            results[name].wall.append(wall)
    return results


def warm_ttft(peers: dict[str, Peer], *, repeats: int) -> dict[str, float]:
    """Median time to first token on an already used client (connection pooled)."""
    results = {}
    for name, peer in peers.items():
        peer.first()
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            runs.append(peer.first() - start)
        results[name] = statistics.median(runs)
    return results


def fresh_ttft(names: list[str], url: str, *, repeats: int) -> dict[str, float]:
    """Median time to first token of the first request in a new interpreter."""
    results = {}
    for name in names:
        argv = [sys.executable, "-m", "benchmarks._first_token", name, url]
        _run(argv)  # untimed: let the bytecode caches settle
        results[name] = statistics.median(float(_run(argv).stdout) for _ in range(repeats))
    return results


def import_time(*, repeats: int) -> ImportTime:
    """``python -c "import rill"`` minus ``python -c pass``, medians of ``repeats`` runs."""
    _run([sys.executable, "-c", "import rill"])
    runs = [_wall([sys.executable, "-c", "import rill"]) for _ in range(repeats)]
    baseline = [_wall([sys.executable, "-c", "pass"]) for _ in range(repeats)]
    startup = {module for _, module in _importtime("pass")}
    entries = [entry for entry in _importtime("import rill") if entry[1] not in startup]
    rill = max((seconds for seconds, module in entries if module == "rill"), default=0.0)
    return ImportTime(
        median=statistics.median(runs) - statistics.median(baseline),
        runs=runs,
        baseline=baseline,
        self_reported=rill,
        top=sorted(entries, reverse=True)[:5],
    )


def _importtime(code: str) -> list[tuple[float, str]]:
    """(cumulative seconds, module) for each line of ``python -X importtime``."""
    stderr = _run([sys.executable, "-X", "importtime", "-c", code]).stderr
    entries = []
    for line in stderr.splitlines():
        # "import time:       112 |        345 |   encodings.aliases"
        _, _, rest = line.partition("import time:")
        fields = rest.split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            entries.append((int(fields[1]) / 1e6, fields[2].strip()))
    return entries


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    _run(argv)
    return time.perf_counter() - start


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # run() kills the child itself if the timeout expires.
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, check=True, timeout=_CHILD_TIMEOUT
    )


def write_results(path: str, results: dict[str, Any]) -> None:
    """Save a run's results as JSON and say where."""
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {output}")
