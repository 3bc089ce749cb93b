"""The share of the machine n workers of one run get, measured now: the advice's capacity.

Spinner processes (plain interpreters, as in capacity.py) spin together for one
fixed window of time, each counting how much it got through; a process's share
is that over what one spin alone gets through in the same time (the fastest
rate seen, alone or among the others), and the capacity is the sum. A fixed
window, not a fixed amount of work: spinners that finish a fixed amount at
different times leave the last ones running with fewer rivals, and their sum
read 2.0 cores where 8 spinners beside one other program got 1.77.

Linux shares a busy CPU between runnable threads, not between programs: beside
one other spinner on 2 cores, 2 workers get 2/3 of the machine and 8 get 8/9.
So where one spinner per core gets short of the cores, CROWD per core are
measured too, and ``Capacity.for_runnable(n)`` fits the scheduler's share
A*n/(n+R) (R: the others' runnable threads) through the two figures. Where the
machine is short because its CPUs do not run (a hypervisor's steal), more
spinners get no more, and the fit is flat.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from dataclasses import dataclass

from conlab.measure.capacity import SPIN_SOURCE, _answer, _spinners, _stop
from conlab.measure.environment import usable_cpus

WINDOW_S = 0.06
ROUNDS = 3
# Where one spinner per core got less than this share of the cores, CROWD per core spin too
# (the most process-pool workers the advice predicts), for longer windows: each gets less.
SHORT = 0.85
CROWD = 4
# Five rounds, not three: beside one spinner, 20 crowd readings of three rounds went from 1.40 to
# 1.95 cores (8/9 of 2 is 1.78), and a low one gave eight workers little more than two get.
CROWD_WINDOW_S, CROWD_ROUNDS = 0.08, 5
# A measurement's first window starts this long after its lines are written: every spinner has
# them and spins, and the scheduler has spread the spinners over the CPUs.
LEAD_S = 0.03
# One chunk of spinning between two looks at the clock: about 50 microseconds alone.
CHUNK_LOOPS = 1000

# At each line "start end start end ...": for each window, spin until its start, count the
# chunks spun until its end; then write each window's chunks and when its last chunk ended
# (CLOCK_MONOTONIC: one clock for every process of the machine). The windows of one line follow
# each other, so the spinners spin from the first to the last without sleeping: a spinner woken
# for each window lands on whichever CPU is idle at that moment, two of them on the same one
# beside a busy other, and the scheduler takes longer than a window to part them (one spinner
# per core read 1.0 core beside one other program, not its 1.33).
_WINDOW_SPINNER = SPIN_SOURCE + (
    "mono = time.monotonic\n"
    "print('ready', flush=True)\n"
    "for line in sys.stdin:\n"
    "    times = list(map(float, line.split()))\n"
    "    out = []\n"
    "    for start, end in zip(times[::2], times[1::2]):\n"
    "        while mono() < start:\n"
    "            spin(loops)\n"
    "        chunks = 0\n"
    "        now = mono()\n"
    "        while now < end:\n"
    "            spin(loops)\n"
    "            chunks += 1\n"
    "            now = mono()\n"
    "        out += [str(chunks), repr(now)]\n"
    "    print(' '.join(out), flush=True)\n"
)


@dataclass(frozen=True)
class Capacity:
    """The machine's capacity: ``at_cores`` with one spinner per usable core, and ``crowded``
    with CROWD per core (measured only when ``at_cores`` fell short of the cores)."""

    cores: int
    at_cores: float
    crowded: float | None = None

    @property
    def others(self) -> float:
        """The others' runnable threads R, from the scheduler's share A*n/(n+R) at two counts."""
        c, k1, k2 = self.cores, self.at_cores, self.crowded
        if k2 is None or k2 <= k1 or CROWD * k1 <= k2:
            return 0.0
        return CROWD * c * (k2 - k1) / (CROWD * k1 - k2)

    def for_runnable(self, n: float) -> float:
        """Cores' worth ``n`` runnable threads of one run get (at least 1, at most the cores).

        A, what the whole machine gives beside the others, is fitted with R: the others'
        share shrinks as ours grows.
        """
        r = self.others
        if r == 0.0:
            return self.at_cores
        full = min(float(self.cores), self.at_cores * (self.cores + r) / self.cores)
        return max(1.0, min(float(self.cores), full * n / (n + r)))


def measure_share() -> Capacity | None:
    """The capacity with one spinner per core and, when that falls short, with CROWD per core;
    None when no spinner could be started (a frozen application has no interpreter)."""
    k = usable_cpus()
    if k < 2:
        return Capacity(k, 1.0)
    if not sys.executable or getattr(sys, "frozen", False):
        return None
    procs: list[subprocess.Popen[str]] = []
    many: list[list[float]] = []
    try:
        procs += _started(k)
        alone = max(_windows(procs[:1], WINDOW_S / 2, 1)[0])  # chunks per second on a core
        few = _windows(procs, WINDOW_S, ROUNDS)
        alone = max(alone, *(r for each in few for r in each))
        if _capacity(few, alone, k) < SHORT * k:
            procs += _started(CROWD * k - k)
            many = _windows(procs, CROWD_WINDOW_S, CROWD_ROUNDS)
            alone = max(alone, *(r for each in many for r in each))
    except (OSError, ValueError):
        return None
    finally:
        _stop(procs)
    crowded = _capacity(many, alone, k) if many else None
    return Capacity(k, _capacity(few, alone, k), crowded)


def _started(n: int) -> list[subprocess.Popen[str]]:
    """``n`` window spinners, each started and ready to read its first window."""
    procs = _spinners(n, CHUNK_LOOPS, _WINDOW_SPINNER)
    try:
        for proc in procs:
            if _answer(proc).strip() != "ready":
                raise OSError("a capacity spinner did not start")
    except BaseException:
        _stop(procs)
        raise
    return procs


def _capacity(rounds: list[list[float]], alone: float, cores: int) -> float:
    """The median round's sum of each spinner's rate over the rate alone, within 1..cores."""
    import statistics  # here: 3 ms that conlab.map's auto need not pay

    got = statistics.median(sum(r / alone for r in each) for each in rounds)
    return max(1.0, min(float(cores), got))


def _windows(procs: list[subprocess.Popen[str]], window_s: float, rounds: int) -> list[list[float]]:
    """Every spinner spins through ``rounds`` windows one after the other, all at once: each
    round's chunks per second of each spinner, counted from the window's start (a spinner the
    machine did not run at once got less)."""
    first = time.monotonic() + LEAD_S
    starts = [first + i * window_s for i in range(rounds)]
    line = " ".join(f"{t!r} {t + window_s!r}" for t in starts) + "\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(line)
        proc.stdin.flush()
    rates: list[list[float]] = [[] for _ in starts]
    for proc in procs:
        answer = _answer(proc).split()
        if len(answer) != 2 * rounds:
            raise ValueError(f"a capacity spinner answered {answer!r}")
        for start, each, chunks, ended in zip(
            starts, rates, answer[::2], answer[1::2], strict=True
        ):
            each.append(int(chunks) / max(float(ended) - start, 1e-6))
    return rates


@functools.lru_cache(maxsize=1)
def machine_share() -> Capacity:
    """The capacity measured once for this process (measure_share for a fresh figure)."""
    share = measure_share()
    return Capacity(usable_cpus(), float(usable_cpus())) if share is None else share


def parallel_capacity() -> float:
    """The capacity with one spinner per core, measured once for this process."""
    return machine_share().at_cores
