"""CPU time as the lab reads it: this process, the children it reaped, a live process, and
the whole machine (``/proc/stat``: every process's busy time, and the time a hypervisor stole;
the root of a cgroup v1 cpuacct hierarchy to the nanosecond, where it counts the whole machine).
"""

from __future__ import annotations

import functools
import os
import time

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

try:
    import psutil
except ImportError:  # pragma: no cover - bare interpreters
    psutil = None

_HAS_PROC = os.path.exists(f"/proc/{os.getpid()}/stat")


def self_cpu_s() -> float:
    """User + system CPU seconds of this process so far (all its threads).

    time.process_time has nanosecond resolution; os.times counts 10 ms clock
    ticks, which would make a 50 ms waiting run look 20 % busy.
    """
    return time.process_time()


def children_cpu_s() -> float:
    """User + system CPU seconds of every child this process has waited for (µs resolution)."""
    if resource is not None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    t = os.times()  # pragma: no cover - Windows
    return t.children_user + t.children_system


def tree_cpu_s() -> float:
    """User + system CPU seconds of this process and its reaped children so far."""
    return self_cpu_s() + children_cpu_s()


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def pid_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (0 when it is gone).

    /proc/<pid>/stat counts whole clock ticks (10 ms), too coarse to take a child's start-up
    out of a 50 ms run; its live threads' run times (schedstat) count nanoseconds but miss
    threads that ended. The larger of the two is the better figure.
    """
    if _HAS_PROC:
        both = pid_tree_cpu_s(pid)
        return 0.0 if both is None else both[0]
    if psutil is not None:
        try:
            t = psutil.Process(pid).cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0
    return 0.0


def pid_tree_cpu_s(pid: int) -> tuple[float, float] | None:
    """CPU seconds of a live process: its own (user + system) and those of the children it
    has waited for; None when it is gone or without /proc.

    A process pool's workers under forkserver are the forkserver's children, not this
    process's: what they used is in no figure of this process until the forkserver is reaped.
    """
    if not _HAS_PROC:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / _TICK
        reaped = (int(fields[13]) + int(fields[14])) / _TICK
    except (OSError, IndexError, ValueError):
        return None
    return max(ticks, _threads_run_s(pid)), reaped


def _threads_run_s(pid: int) -> float:
    """Seconds the live threads of ``pid`` have run on a CPU (0 where schedstat is missing)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return 0.0
    return total / 1e9


# Every task's run time in nanoseconds, at the root of a cgroup v1 cpuacct hierarchy.
_CPUACCT_USAGE = "/sys/fs/cgroup/cpuacct/cpuacct.usage"


def _proc_stat_s() -> tuple[float, float] | None:
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()[1:]
        # user nice system idle iowait irq softirq steal (guest time is already in user).
        values = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
        busy = sum(values) - values[3] - values[4] - values[7]
        return busy / _TICK, values[7] / _TICK
    except (OSError, ValueError, IndexError):
        return None


def _cpuacct_s() -> float | None:
    try:
        with open(_CPUACCT_USAGE, "rb") as f:
            return int(f.read()) / 1e9
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _cpuacct_counts_the_machine() -> bool:
    """Whether cpuacct's root counts every process of the machine: since boot, it agrees with
    /proc/stat's busy time within 10 % (a container's own hierarchy counts far less)."""
    both, precise = _proc_stat_s(), _cpuacct_s()
    return both is not None and precise is not None and 0.9 <= precise / max(both[0], 1.0) <= 1.1


def machine_cpu_resolution_s() -> float:
    """How finely machine_cpu_s counts each CPU's busy time: a nanosecond from cpuacct, else a
    clock tick (10 ms: a 40 ms run's other processes read ±0.5 of a core on two CPUs)."""
    return 1e-9 if _cpuacct_counts_the_machine() else 1 / _TICK


def machine_cpu_s() -> tuple[float, float] | None:
    """CPU seconds the machine's processes used since boot (all cores), and the seconds the
    hypervisor stole from its virtual CPUs; None where the platform cannot tell."""
    both = _proc_stat_s()
    if both is not None:
        precise = _cpuacct_s() if _cpuacct_counts_the_machine() else None
        return (both[0] if precise is None else precise), both[1]
    if psutil is not None:
        t = psutil.cpu_times()
        steal = float(getattr(t, "steal", 0.0))
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0)) - steal, steal
    return None


def machine_busy_cpu_s() -> float | None:
    """CPU seconds every process of the machine has used since boot (all cores), or None."""
    both = machine_cpu_s()
    return None if both is None else both[0]


def load_average() -> float | None:
    """The 1-minute load average, where the platform has one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
