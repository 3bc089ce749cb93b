"""Probes of the process tree during a run: CPU time and peak memory.

CPU time is the user + system time of this process and of every child it has
waited for (``RUSAGE_CHILDREN``): strategies join their workers before they
return, so every worker, including those that already exited, is counted.
Peak memory is the largest sum of RSS over this process and its live
descendants, sampled by a background thread; on Linux it reads ``/proc``
directly, which costs microseconds per sample, elsewhere psutil when present.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass

try:
    import psutil
except ImportError:  # pragma: no cover - bare interpreters
    psutil = None

SAMPLE_INTERVAL_S = 0.005
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HAS_PROC = os.path.exists(f"/proc/{os.getpid()}/statm")


def self_cpu_s() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    t = os.times()
    return t.user + t.system


def children_cpu_s() -> float:
    """User + system CPU seconds of every child this process has waited for."""
    t = os.times()
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


def tree_rss_bytes(root: int, pids: list[int] | None = None) -> tuple[int, list[int]]:
    """Sum of RSS over ``root`` and its descendants, and the pids summed."""
    if _HAS_PROC:
        if pids is None:
            pids, frontier = [root], [root]
            while frontier:
                frontier = [c for p in frontier for c in _children_linux(p)]
                pids.extend(frontier)
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
    cpu_s: float
    peak_rss_bytes: int | None
    samples: int


class TreeProbe:
    """Measures CPU time and peak memory of this process tree between start() and stop()."""

    # The list of descendants is walked again this often; RSS is read at every sample.
    RESCAN_EVERY = 4

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0
        self._samples = 0
        self._cpu0 = 0.0
        self._can_sample = _HAS_PROC or psutil is not None

    def start(self) -> TreeProbe:
        self._cpu0 = tree_cpu_s()
        if self._can_sample:
            self._sample(None)
            self._thread = threading.Thread(target=self._loop, name="conlab-probe", daemon=True)
            self._thread.start()
        return self

    def _sample(self, pids: list[int] | None) -> list[int]:
        rss, pids = tree_rss_bytes(os.getpid(), pids)
        self._samples += 1
        self._peak = max(self._peak, rss)
        return pids

    def _loop(self) -> None:
        pids: list[int] | None = None
        n = 0
        while not self._stop.wait(self.interval_s):
            pids = self._sample(None if n % self.RESCAN_EVERY == 0 else pids)
            n += 1

    def stop(self) -> ProbeResult:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._sample(None)
        cpu = tree_cpu_s() - self._cpu0
        return ProbeResult(
            cpu_s=cpu,
            peak_rss_bytes=self._peak if self._can_sample else None,
            samples=self._samples,
        )

    def __enter__(self) -> TreeProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None and not self._stop.is_set():
            self.stop()
