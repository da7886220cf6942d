"""Peak memory of a piece of code, measured in a fresh interpreter so that
nothing else in the test process counts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PEAK = """
import resource
{setup}
# A failed bound must fail the test, not exhaust the machine: cap the address
# space at what it is now plus 1 GiB.
with open("/proc/self/status") as status:
    vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, ((vm << 10) + (1 << 30),) * 2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{body}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, result)
"""


def peak(setup: str, body: str) -> tuple[int, int, str]:
    """``(peak KiB before, peak KiB after, result)`` of ``body`` run in a
    child after ``setup``; ``body`` sets ``result``."""
    script = _PEAK.format(setup=textwrap.dedent(setup), body=textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    before, after, result = done.stdout.split()
    return int(before), int(after), result
