"""The machine's parallel capacity, measured now: how many cores' worth of pure Python it runs at once.

``k`` processes (k = the usable cores) spin at once, each timing itself; each
one's throughput is the time one spin takes alone (the fastest spin seen, alone
or among the others) over the time it took among the others, and the capacity
is their sum (the median of its rounds: it moves from moment to moment). A
quiet machine with k real cores gives about k; a virtual machine whose CPUs are
not all running, or a machine that other programs keep busy, gives less, and no
strategy can go faster than that. The spinners are plain interpreters, not
multiprocessing children, which would import the user's ``__main__`` again.
"""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
import time

from conlab.measure.environment import usable_cpus

CAPACITY_SPIN_S = 0.04
CAPACITY_ROUNDS = 5
# Next to a run (contention.py), fewer and shorter spins: it is paid after each suspect run.
QUICK_SPIN_S = 0.02
QUICK_ROUNDS = 3
# How long a spinner may take to start and answer one round.
ANSWER_TIMEOUT_S = 10.0


def _spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i & 7
    return total


def _time_spin(loops: int) -> float:
    t0 = time.perf_counter()
    _spin(loops)
    return time.perf_counter() - t0


# A spinner: a fresh interpreter that, at each line it reads, spins and writes how long it took.
# The spin is _spin's code, in a function as there: a loop at the top level of ``-c`` works on
# globals, 2.4x slower than the same loop on locals, and a capacity that compares the one with
# the other read 1.0 on two free cores.
SPIN_SOURCE = (
    "import sys, time\n"
    "def spin(loops):\n"
    "    total = 0\n"
    "    for i in range(loops):\n"
    "        total += i & 7\n"
    "    return total\n"
    "loops = int(sys.argv[1])\n"
)
_SPINNER = SPIN_SOURCE + (
    "for _ in sys.stdin:\n"
    "    t0 = time.perf_counter()\n"
    "    spin(loops)\n"
    "    print(time.perf_counter() - t0, flush=True)\n"
)


def _spinners(k: int, loops: int, code: str = _SPINNER) -> list[subprocess.Popen[str]]:
    """``k`` spinner processes running ``code``: plain interpreters, which import nothing of the
    user's (a spawned multiprocessing child would run an unguarded ``__main__`` again)."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(k):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-S", "-E", "-c", code, str(loops)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    bufsize=1,
                )
            )
    except BaseException:
        _stop(procs)
        raise
    return procs


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def measure_capacity(
    spin_s: float = CAPACITY_SPIN_S, rounds: int = CAPACITY_ROUNDS
) -> float | None:
    """The capacity in cores (1 to the usable cores), measured now, not cached; None when no
    spinner could be started (a frozen application has no interpreter to start)."""
    k = usable_cpus()
    if k < 2:
        return 1.0
    if not sys.executable or getattr(sys, "frozen", False):
        return None
    loops = 20_000
    while (alone := _time_spin(loops)) < spin_s / 4:
        loops *= 4
    loops = int(loops * spin_s / alone)
    alone = min(_time_spin(loops) for _ in range(2))  # the best: others only slow it down
    times: list[list[float]] = []
    try:
        procs = _spinners(k, loops)
    except OSError:
        return None
    try:
        # One spinner alone first: the spin alone timed in a spinner, as the others are.
        alone = min(alone, *_round(procs[:1]))
        for _ in range(rounds):
            times.append(_round(procs))
    except (OSError, ValueError):
        return None
    finally:
        _stop(procs)
    # A spinner that ran faster among the others than the spin alone shows the spin alone was
    # slowed (it ran on a CPU others kept busy): the fastest spin seen is one core's speed.
    alone = min(alone, *(t for each in times for t in each))
    import statistics  # here: 3 ms that conlab.map's auto need not pay

    capacity = statistics.median(sum(alone / t for t in each) for each in times)
    return max(1.0, min(float(k), capacity))


def _round(procs: list[subprocess.Popen[str]]) -> list[float]:
    """Each spinner spins once, all at once: how long each took."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return [float(_answer(proc)) for proc in procs]


def _answer(proc: subprocess.Popen[str]) -> str:
    """One line from ``proc``, or OSError when none comes within ANSWER_TIMEOUT_S."""
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], ANSWER_TIMEOUT_S)[0]:
        raise OSError("a capacity spinner did not answer")
    return proc.stdout.readline()
