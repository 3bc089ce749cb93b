"""Whether a thread computes in bursts or evenly: its CPU clock, read by a thread beside it.

A task that waits, then computes, keeps its CPU busy in one block; one that
alternates finely keeps it busy a little all the time. Tasks a pool starts
together run in step when they compute in blocks: they wait at once, then
queue for the cores at once. Two threads under the GIL show which (the pair in
advice.profile); on a free-threaded build the two compute at once either way,
so the task's own CPU timeline is read instead.

The sampler reads the thread's CPU clock (``pthread_getcpuclockid``) at a fixed
interval. Where the GIL is enabled, each read would take the GIL from the task:
the sampler is meant for free-threaded builds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from itertools import pairwise

# Fewer intervals than this say nothing about the shape of the computing.
MIN_INTERVALS = 10
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.0005, 0.01
INTERVALS = 100  # the interval is set for about this many over the expected time


class CpuTimeline:
    """Samples (wall ns, CPU ns) of the calling thread while the ``with`` block runs."""

    def __init__(self, expected_s: float) -> None:
        self.interval_s = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, expected_s / INTERVALS))
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clock: int | None = None

    def __enter__(self) -> CpuTimeline:
        try:
            self._clock = time.pthread_getcpuclockid(threading.get_ident())
            time.clock_gettime_ns(self._clock)
        except (AttributeError, OSError):  # not on this platform: no timeline
            self._clock = None
            return self
        self._thread = threading.Thread(target=self._sample, name="conlab-cpu-timeline")
        self._read()
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._clock is not None
        self.samples.append((time.perf_counter_ns(), time.clock_gettime_ns(self._clock)))

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._read()

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._read()

    def burstiness(self) -> float | None:
        return burstiness(self.samples)


def burstiness(samples: Sequence[tuple[int, int]]) -> float | None:
    """How far the computing came in blocks (1) rather than spread evenly (0).

    Each interval's CPU rate r (CPU time over wall time, 0 to 1) is compared
    with the mean f: computing in blocks gives rates of 0 and 1, whose mean
    absolute deviation from f is 2 f (1 - f); computing spread evenly gives f
    everywhere, a deviation of 0. The deviation over 2 f (1 - f), weighted by
    each interval's length. None when there are too few intervals, or when the
    thread (almost) only waited or only computed.
    """
    spans = [
        (w1 - w0, min(1.0, max(0.0, (c1 - c0) / (w1 - w0))))
        for (w0, c0), (w1, c1) in pairwise(samples)
        if w1 > w0
    ]
    if len(spans) < MIN_INTERVALS:
        return None
    wall = sum(w for w, _ in spans)
    f = sum(w * r for w, r in spans) / wall
    if not 0.05 <= f <= 0.95:
        return None
    deviation = sum(w * abs(r - f) for w, r in spans) / wall
    return min(1.0, deviation / (2 * f * (1 - f)))
