"""Probes of the process tree during a run: CPU time and peak memory.

CPU time is the user + system time of this process and of every child it has
waited for (``RUSAGE_CHILDREN``): strategies join their workers before they
return, so every worker, including those that already exited, is counted.
Peak memory is the largest sum of RSS over this process and its live
descendants, sampled by a background thread at 105 Hz; on Linux it reads
``/proc`` directly, which costs microseconds per sample, elsewhere psutil when
present. USS (memory private to each process, which forked children do not
share) costs a hundred times more to read, so it is sampled at about 7 Hz, and the
descendants are listed again at about 13 Hz. The
probe also counts the CPU time the rest of the machine used during the run
(``/proc/stat``), so that a busy machine can be told apart from a slow strategy,
and its own CPU time, so that its cost is known.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

try:
    import psutil
except ImportError:  # pragma: no cover - bare interpreters
    psutil = None

# 105 Hz: each sample is due at a fixed time (t0 + n * interval), so that sleep's overshoot
# of a fraction of a millisecond does not slow the rate, and a wake-up costs ~60 us of CPU here.
SAMPLE_INTERVAL_S = 0.0095
# USS is read at one sample in this many (about 7 Hz).
USS_EVERY = 16
USS_REGROW = 1.1
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HAS_PROC = os.path.exists(f"/proc/{os.getpid()}/statm")


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
    """User + system CPU seconds of a live process (0 when it is gone)."""
    if _HAS_PROC:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            return 0.0
    if psutil is not None:
        try:
            t = psutil.Process(pid).cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0
    return 0.0


def _children_linux(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def _rss_linux(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _uss_linux(pid: int) -> int:
    """Private memory of ``pid``: Private_Clean + Private_Dirty + Private_Hugetlb of smaps_rollup."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Private_"):
                    total += int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        return 0
    return total


_HAS_ROLLUP = os.path.exists(f"/proc/{os.getpid()}/smaps_rollup")


def tree_uss_bytes(pids: list[int]) -> int | None:
    """Sum of USS over ``pids``, or None where the platform cannot tell."""
    if _HAS_ROLLUP:
        return sum(_uss_linux(p) for p in pids)
    if psutil is not None:
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_full_info().uss
            except (psutil.Error, AttributeError):
                return None
        return total
    return None


def machine_busy_cpu_s() -> float | None:
    """CPU seconds every process of the machine has used since boot (all cores), or None."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()[1:]
        # user nice system idle iowait irq softirq steal (guest time is already in user).
        values = [int(v) for v in fields[:8]]
        return (sum(values) - values[3] - values[4]) / _TICK
    except (OSError, ValueError, IndexError):
        pass
    if psutil is not None:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))
    return None


def load_average() -> float | None:
    """The 1-minute load average, where the platform has one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def tree_rss_bytes(root: int, pids: list[int] | None = None) -> tuple[int, list[int]]:
    """Sum of RSS over ``root`` and its descendants, and the pids summed."""
    if _HAS_PROC:
        if pids is None:
            pids = _descendants_linux(root)
        return sum(_rss_linux(p) for p in pids), pids
    if psutil is not None:
        try:
            proc = psutil.Process(root)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return 0, [root]
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total, [p.pid for p in procs]
    return 0, [root]


@dataclass
class ProbeResult:
    """What one probe saw: ``other_cpu_s`` is CPU time used outside this process tree."""

    cpu_s: float
    peak_rss_bytes: int | None
    samples: int
    wall_s: float = 0.0
    peak_uss_bytes: int | None = None
    other_cpu_s: float | None = None
    load_avg: float | None = None
    sampler_cpu_s: float = 0.0


class _StatmReader:
    """Reads RSS of a set of pids through statm files kept open: one pread per pid per sample."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def track(self, pids: list[int]) -> None:
        for pid in set(self._fds) - set(pids):
            os.close(self._fds.pop(pid))
        for pid in pids:
            if pid not in self._fds:
                with contextlib.suppress(OSError):
                    self._fds[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY)

    def rss_bytes(self) -> int:
        total = 0
        for pid, fd in list(self._fds.items()):
            try:
                total += int(os.pread(fd, 128, 0).split()[1]) * _PAGE
            except (OSError, IndexError, ValueError):
                os.close(self._fds.pop(pid))
        return total

    def close(self) -> None:
        self.track([])


def _descendants_linux(root: int) -> list[int]:
    pids, frontier = [root], [root]
    while frontier:
        frontier = [c for p in frontier for c in _children_linux(p)]
        pids.extend(frontier)
    return pids


class _Budgeted:
    """A costly step of the sampler, run every ``every`` samples at most, within a CPU budget.

    Reading smaps_rollup costs more the larger the process (it walks the page
    tables), and listing descendants more the more threads there are: after a
    step that cost ``c`` CPU seconds, the next waits ``c / BUDGET`` seconds.
    """

    BUDGET = 0.002  # of one core, for each costly step

    def __init__(self, every: int) -> None:
        self.every = every
        self.not_before = 0.0

    def due(self, n: int) -> bool:
        return n % self.every == 0 and time.perf_counter() >= self.not_before

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        cpu0 = time.thread_time()
        try:
            yield
        finally:
            cost = time.thread_time() - cpu0
            self.not_before = time.perf_counter() + cost / self.BUDGET


class TreeProbe:
    """Measures CPU time and peak memory of this process tree between start() and stop()."""

    # The list of descendants is walked again this often; RSS is read at every sample.
    RESCAN_EVERY = 8

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._peak = 0
        self._peak_uss: int | None = None
        self._samples = 0
        self._cpu0 = 0.0
        self._busy0: float | None = None
        self._t0 = 0.0
        self._load: float | None = None
        self._sampler_cpu_s = 0.0
        self._can_sample = _HAS_PROC or psutil is not None

    def start(self) -> TreeProbe:
        self._load = load_average()
        self._busy0 = machine_busy_cpu_s()
        self._t0 = time.perf_counter()
        self._cpu0 = tree_cpu_s()
        if self._can_sample:
            self._sample(None, uss=True)
            self._thread = threading.Thread(target=self._loop, name="conlab-probe", daemon=True)
            self._thread.start()
        return self

    def _sample(self, pids: list[int] | None, uss: bool = False) -> list[int]:
        rss, pids = tree_rss_bytes(os.getpid(), pids)
        self._record(rss, pids, uss)
        return pids

    def _record(self, rss: int, pids: list[int], uss: bool) -> None:
        self._samples += 1
        self._peak = max(self._peak, rss)
        if uss:
            value = tree_uss_bytes(pids)
            if value is not None:
                self._peak_uss = max(self._peak_uss or 0, value)

    def _loop(self) -> None:
        # time.sleep, not Event.wait: waking costs half as much, and stop() waits one interval.
        cpu0 = time.thread_time()
        if _HAS_PROC:
            self._loop_proc()
        else:
            pids: list[int] | None = None
            n = 1
            while not self._stopping:
                time.sleep(self.interval_s)
                pids = self._sample(
                    None if n % self.RESCAN_EVERY == 0 else pids, n % USS_EVERY == 0
                )
                n += 1
        self._sampler_cpu_s = time.thread_time() - cpu0

    def _loop_proc(self) -> None:
        root, reader, n = os.getpid(), _StatmReader(), 0
        pids: list[int] = []
        rescan, uss = _Budgeted(self.RESCAN_EVERY), _Budgeted(USS_EVERY)
        uss_rss = 0
        due = time.perf_counter()
        try:
            while not self._stopping:
                due += self.interval_s
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    due -= delay  # late: the next sample is due one interval from now, no burst
                if rescan.due(n):
                    with rescan.timed():
                        pids = _descendants_linux(root)
                        reader.track(pids)
                rss = reader.rss_bytes()
                self._samples += 1
                self._peak = max(self._peak, rss)
                # USS is read within its budget, and whenever RSS has grown by a tenth since
                # the last reading, so that a fast-growing process is not missed.
                if uss.due(n) or rss > USS_REGROW * uss_rss:
                    uss_rss = rss
                    with uss.timed():
                        self._record_uss(pids)
                n += 1
        finally:
            reader.close()

    def _record_uss(self, pids: list[int]) -> None:
        value = tree_uss_bytes(pids)
        if value is not None:
            self._peak_uss = max(self._peak_uss or 0, value)

    def stop(self) -> ProbeResult:
        if self._thread is not None:
            self._stopping = True
            self._thread.join()
            self._sample(None, uss=True)
        wall = time.perf_counter() - self._t0
        # The sampler's own CPU time is the probe's cost, not the work's.
        cpu = max(0.0, tree_cpu_s() - self._cpu0 - self._sampler_cpu_s)
        busy1 = machine_busy_cpu_s()
        other = None
        if self._busy0 is not None and busy1 is not None:
            other = max(0.0, busy1 - self._busy0 - cpu - self._sampler_cpu_s)
        return ProbeResult(
            cpu_s=cpu,
            peak_rss_bytes=self._peak if self._can_sample else None,
            samples=self._samples,
            wall_s=wall,
            peak_uss_bytes=self._peak_uss,
            other_cpu_s=other,
            load_avg=self._load,
            sampler_cpu_s=self._sampler_cpu_s,
        )

    def __enter__(self) -> TreeProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None and not self._stopping:
            self.stop()
