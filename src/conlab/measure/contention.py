"""Whether a run could have had the cores its workers asked for: the rest of the machine during it.

The probe (tree.py) counts what every other process of the machine used while
the run was timed (the machine's busy time less conlab's own process tree) and
the time the hypervisor stole. Where the machine's busy time is counted in
clock ticks (``/proc/stat``: 10 ms per CPU), a short run's window cannot tell a
core kept busy by others from an idle one (a 40 ms run on two CPUs reads
others ±0.5 of a core), so the machine is watched a moment longer after it,
conlab idle, until the window can. A run is *contended* when the rest of the
machine took a share that left its workers fewer cores than they asked for,
while the machine had no core to spare. When others were busy, the machine's
parallel capacity (capacity.py) is measured right after the run, so that the
record says how many cores the run could really have had.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

from conlab.measure.capacity import QUICK_ROUNDS, QUICK_SPIN_S, measure_capacity
from conlab.measure.cpu import machine_cpu_resolution_s, machine_cpu_s, tree_cpu_s
from conlab.model import Contention

# Others using this many cores on average (or the hypervisor stealing them) make a run suspect.
OTHERS_BUSY_CORES = 0.25
# A run is contended when it was left this many cores fewer than it asked for...
SHORT_OF_CORES = 0.25
# ...and the machine was this close to fully busy (it, others and steal together).
SATURATED_MARGIN_CORES = 0.4
# ...and the run took at least this share of the cores it was given: a run that used less (its
# workers mostly waited: sleeps, sockets) was not held back by the cores it did not get.
CPU_BOUND_SHARE = 0.5
# A window is watched until its counts leave others uncertain by at most this many cores...
RESOLVED_CORES = 0.15
# ...but no longer than this.
LONGEST_WINDOW_S = 0.5
# A capacity measured this recently is next to the run still: the runs of one round share it
# (starting the spinners costs 0.1-0.3 s on a busy machine, more than many runs take).
CAPACITY_FRESH_S = 2.0
_last_capacity: tuple[float, float | None] | None = None  # (time.monotonic(), capacity)


def capacity_now() -> float | None:
    """The machine's capacity measured now, or within the last CAPACITY_FRESH_S seconds."""
    global _last_capacity
    now = time.monotonic()
    if _last_capacity is None or now - _last_capacity[0] > CAPACITY_FRESH_S:
        _last_capacity = (now, measure_capacity(QUICK_SPIN_S, QUICK_ROUNDS))
    return _last_capacity[1]


def judge(
    *,
    wall_s: float,
    own_cpu_s: float,
    other_cpu_s: float | None,
    steal_s: float | None,
    asked_cores: float,
    cores: int,
    measure: bool = True,
    resolution_s: float | None = None,
    work_s: float | None = None,
) -> Contention:
    """The machine during one timed run of ``wall_s`` that used ``own_cpu_s`` of CPU itself.

    ``work_s``: the part of ``wall_s`` in which ``own_cpu_s`` was spent (a run's timed work,
    without its pool's start and stop); the whole ``wall_s`` when None. A 28 ms hashing run in
    a 42 ms window read 0.83 cores of its own where it used 1.06.

    ``asked_cores`` is what its workers could use at once (1 for a loop, the workers up to the
    cores for a pool). ``measure``: watch a window too short to tell a moment longer, and
    measure the capacity when others were busy. ``resolution_s``: how finely the machine's busy
    time was counted per CPU (machine_cpu_resolution_s when None).
    """
    if other_cpu_s is None or wall_s <= 0:
        return Contention(None, None, asked_cores, None)
    tick_s = machine_cpu_resolution_s() if resolution_s is None else resolution_s
    # The machine's busy time is counted in whole ticks per CPU: a tick per CPU either way at
    # each end of a window is no evidence.
    slack_s, window_s, steal_s = cores * tick_s, wall_s, steal_s or 0.0
    if measure and slack_s / wall_s > RESOLVED_CORES:
        slack_s *= 2  # two windows, each counted in ticks
        watched = watch_idle(min(slack_s / RESOLVED_CORES, LONGEST_WINDOW_S) - wall_s)
        if watched is not None:
            other_cpu_s, steal_s = other_cpu_s + watched[0], steal_s + watched[1]
            window_s += watched[2]
    other = max(0.0, other_cpu_s - slack_s) / window_s
    steal = max(0.0, steal_s - slack_s) / window_s
    available = max(0.0, cores - other - steal)
    capacity = None
    if other + steal >= OTHERS_BUSY_CORES and measure:
        capacity = capacity_now()
        if capacity is not None:
            available = min(available, capacity)
    own = own_cpu_s / (work_s if work_s else wall_s)
    # The machine was fully busy: the run, the others and steal filled its cores; or the run
    # used all the capacity measured beside it, which is what a hypervisor that runs fewer
    # virtual CPUs than it shows (and reports no steal) leaves. Beside a spinner, hashing in two
    # threads read own 0.95 + others 0.55 of 2 cores with a capacity of 1.0: "not parallel".
    saturated = own + other + steal >= cores - SATURATED_MARGIN_CORES or (
        capacity is not None and own >= capacity - SATURATED_MARGIN_CORES
    )
    wanted_cores = own >= CPU_BOUND_SHARE * available
    contended = (
        other + steal >= OTHERS_BUSY_CORES
        and available < min(asked_cores, cores) - SHORT_OF_CORES
        and saturated
        and wanted_cores
    )
    return Contention(other, steal, asked_cores, available, contended, capacity)


def watch_idle(seconds: float) -> tuple[float, float, float] | None:
    """What the rest of the machine did while conlab waited ``seconds``: (its CPU seconds, the
    seconds stolen, the seconds watched); None where the machine's CPU cannot be read."""
    before, own0, t0 = machine_cpu_s(), tree_cpu_s(), time.perf_counter()
    time.sleep(max(0.0, seconds))
    after, own = machine_cpu_s(), tree_cpu_s() - own0
    watched_s = time.perf_counter() - t0
    if before is None or after is None:
        return None
    return max(0.0, after[0] - before[0] - own), max(0.0, after[1] - before[1]), watched_s


def summary(machines: Sequence[Contention]) -> str:
    """``the machine gave 1.1 cores of the 2 asked; other processes used 0.9``: the medians
    over the contended repeats (over all of them when none was)."""
    chosen = [m for m in machines if m.contended] or list(machines)
    available = [m.available_cores for m in chosen if m.available_cores is not None]
    other = [m.other_cores for m in chosen if m.other_cores is not None]
    steal = [m.steal_cores for m in chosen if m.steal_cores is not None]
    if not chosen or not available:
        return "the machine's load was not measured"
    asked = max(m.asked_cores for m in chosen)
    text = (
        f"the machine gave {statistics.median(available):.1f} cores "
        f"of the {asked:g} asked; other processes used {statistics.median(other):.1f}"
    )
    if steal and statistics.median(steal) >= 0.05:
        text += f", the hypervisor stole {statistics.median(steal):.1f}"
    return text


_CORES = ("other_cores", "steal_cores", "capacity_cores", "available_cores")


def to_dict(m: Contention) -> dict[str, float | bool | None]:
    """One repeat's machine as the result file keeps it (docs/result-format.md)."""
    return {
        "other_cores": m.other_cores,
        "steal_cores": m.steal_cores,
        "capacity_cores": m.capacity_cores,
        "asked_cores": m.asked_cores,
        "available_cores": m.available_cores,
        "contended": m.contended,
    }


def from_dict(d: object) -> Contention:
    """The machine read back; ValueError("key: what is wrong") when it is not one."""
    if not isinstance(d, dict):
        raise ValueError(f": expected an object, found {type(d).__name__}")
    values: dict[str, float | None] = {}
    for key in (*_CORES, "asked_cores"):
        value = d.get(key)
        if value is None and key != "asked_cores":
            values[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f".{key}: expected a number of cores, found {type(value).__name__}")
        if not 0 <= value < 1e6:
            raise ValueError(f".{key}: expected a number of cores of at least 0")
        values[key] = float(value)
    if not isinstance(d.get("contended"), bool):
        raise ValueError(
            f".contended: expected a boolean, found {type(d.get('contended')).__name__}"
        )
    return Contention(
        other_cores=values["other_cores"],
        steal_cores=values["steal_cores"],
        asked_cores=values["asked_cores"] or 0.0,
        available_cores=values["available_cores"],
        contended=d["contended"],
        capacity_cores=values["capacity_cores"],
    )
