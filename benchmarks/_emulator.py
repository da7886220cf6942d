"""Run ``python -m rill.testing`` (or another emulator launcher) in its own
process and stop it by pid.

The server lives in another process so its CPU time is not charged to the
client being measured, which reads ``time.process_time()``.
"""

from __future__ import annotations

import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

__all__ = ["BANNER", "emulator", "server"]

BANNER = "rill emulator listening on "
_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0


@contextmanager
def emulator(*, chunks: int, ttft: float = 0.0, tps: float | None = None) -> Iterator[str]:
    """Start an emulator serving ``chunks`` text pieces; yield its ``/v1`` base URL.

    Unpaced (``tps=None``) it writes 64 KiB batches of events; paced, one write per event.
    """
    argv = [sys.executable, "-m", "rill.testing", "--port", "0", "--chunks", str(chunks)]
    if ttft:
        argv += ["--ttft", str(ttft)]
    if tps:
        argv += ["--tps", str(tps)]
    with server(argv) as url:
        yield url


@contextmanager
def server(argv: list[str]) -> Iterator[str]:
    """Run ``argv``, a process that prints the emulator's banner; yield the URL it prints."""
    # stderr goes to a file, not a pipe nobody drains, so a chatty server cannot block.
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            yield _read_url(process, errors)
        finally:
            _stop(process)


def _read_url(process: subprocess.Popen[str], errors: IO[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line.startswith(BANNER):
        errors.seek(0)
        raise RuntimeError(
            f"emulator did not start within {_START_TIMEOUT:.0f} s "
            f"(stdout {line!r}, stderr {errors.read()[-2000:]!r})"
        )
    return line[len(BANNER) :].strip()


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT)
    if process.stdout is not None:
        process.stdout.close()
