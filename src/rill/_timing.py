"""Client-side timing of a stream: time to first token, gaps, throughput.

The clock is read once per network read that produced chunks, not once per
chunk: chunks that arrived in the same read arrived together, and the hot path
stays free of per-chunk clock calls. Statistics are computed only at the end.
"""

from __future__ import annotations

import time

from ._response import Timing

__all__ = ["TimingRecorder"]


class TimingRecorder:
    __slots__ = ("_end", "_first", "_gaps", "_last", "_start")

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._first: float | None = None
        self._last: float | None = None
        self._end: float | None = None
        self._gaps: list[float] = []

    def restart(self) -> None:
        """Called when a retry starts the request again."""
        self.__init__()  # type: ignore[misc]

    def output(self, now: float) -> None:
        """A read produced output chunks (``now``: ``time.perf_counter()``)."""
        if self._last is None:
            self._first = now
        else:
            self._gaps.append(now - self._last)
        self._last = now

    def finish(self) -> None:
        if self._end is None:
            self._end = time.perf_counter()

    @property
    def started(self) -> bool:
        return self._first is not None

    def timing(self, chunks: int, completion_tokens: int) -> Timing:
        end = self._end if self._end is not None else time.perf_counter()
        ttft = None if self._first is None else self._first - self._start
        tps = None
        if self._first is not None and completion_tokens:
            generating = end - self._first
            if generating > 0:
                tps = completion_tokens / generating
        gaps = sorted(self._gaps)
        return Timing(
            ttft=ttft,
            total=end - self._start,
            chunks=chunks,
            output_tokens_per_second=tps,
            gap_median=_quantile(gaps, 0.5),
            gap_p95=_quantile(gaps, 0.95),
            gap_max=gaps[-1] if gaps else None,
        )


def _quantile(ordered: list[float], q: float) -> float | None:
    """Linear-interpolated quantile of an already sorted list."""
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
