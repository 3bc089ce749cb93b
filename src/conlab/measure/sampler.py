"""The memory sampler of a process tree on Linux, and the process it runs in.

It reads ``/proc`` directly: the RSS of a root process and its live
descendants at 105 Hz, their USS (memory private to each process, which
forked children do not share) at about 7 Hz, and the list of descendants at
about 13 Hz; each costly step within a CPU budget.

It runs in a process of its own (``python -S -E sampler.py --conlab-sampler
ROOT INTERVAL``), so that its wake-ups take no turn of the measured
process's GIL: as a thread there, it made a thread pool of trivial tasks
0.05x slower on average over five runs of benchmarks/sampler_costs.py
(-0.02x to +0.10x, within this VM's noise). Reading another process's
``/proc`` files costs more CPU than reading one's own, though: about 2 % of
a core here, against 1.3 % as a thread. Samplers leave themselves, and each
other, out of the tree they sum. This file imports only the standard
library: the sampler process starts without site-packages, in about 20 ms.

Protocol, one line each way on the sampler's stdin and stdout: ``start`` ->
``ready CPU_S`` (first sample taken; CPU_S its CPU time so far); ``stop`` ->
``result SAMPLES PEAK_RSS PEAK_USS CPU_S`` (a last sample taken; PEAK_USS -1
when unknown; CPU_S its own CPU time since ``start``); ``quit`` or end of
input ends it. It also ends when its parent does (it checks at one sample in
16, and every half second when idle), and ignores Ctrl-C: the process that
started it stops it, after the run it measures.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

# 105 Hz: each sample is due at a fixed time (t0 + n * interval), so that sleep's overshoot
# of a fraction of a millisecond does not slow the rate, and a wake-up costs ~60 us of CPU here.
SAMPLE_INTERVAL_S = 0.0095
# USS is read at one sample in this many (about 7 Hz), the descendants listed at one in RESCAN_EVERY.
USS_EVERY = 16
RESCAN_EVERY = 8
# USS is read again as soon as RSS has grown by this factor since the last reading.
USS_REGROW = 1.1
MARKER = "--conlab-sampler"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_pread = os.pread
# How often an idle sampler process checks that its parent still lives; a sampling one checks
# at one sample in PARENT_EVERY (each check is a system call, dear on a virtual machine).
IDLE_CHECK_S = 0.5
PARENT_EVERY = 16


def children(pid: int) -> list[int]:
    """The children of ``pid`` (every thread's), from /proc."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def descendants(root: int) -> list[int]:
    """``root`` and every live descendant of it."""
    pids, frontier = [root], [root]
    while frontier:
        frontier = [c for p in frontier for c in children(p)]
        pids.extend(frontier)
    return pids


def is_sampler(pid: int) -> bool:
    """Whether ``pid`` is a sampler process (its command line carries MARKER)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return MARKER.encode() in f.read().split(b"\0")
    except OSError:
        return False


def uss_bytes(pid: int) -> int:
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


class StatmReader:
    """Reads RSS of a set of pids through statm files kept open: one pread per pid per sample."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}
        self.fds: list[int] = []  # the open files, for the sampler's loop

    def track(self, pids: list[int]) -> None:
        for pid in set(self._fds) - set(pids):
            os.close(self._fds.pop(pid))
        for pid in pids:
            if pid not in self._fds:
                with contextlib.suppress(OSError):
                    self._fds[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        self.fds = list(self._fds.values())

    def rss_pages(self) -> int:
        """RSS in pages; the files of processes gone are closed and forgotten."""
        total = 0
        for pid, fd in list(self._fds.items()):
            try:
                total += int(os.pread(fd, 128, 0).split()[1])
            except (OSError, IndexError, ValueError):
                os.close(self._fds.pop(pid))
        self.fds = list(self._fds.values())
        return total

    def close(self) -> None:
        self.track([])


class Budgeted:
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

    def spent(self, cpu_s: float) -> None:
        self.not_before = time.perf_counter() + cpu_s / self.BUDGET


class TreeSampler:
    """Peak RSS and USS of ``root`` and its descendants, samplers left out."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.reader = StatmReader()
        self.pids: list[int] = []
        self._samplers = {os.getpid()}
        self.reset()

    def reset(self) -> None:
        self.peak = 0
        self.peak_uss: int | None = None
        self.samples = 0
        self._n = 0
        self._regrow_at = 0  # RSS above which USS is read again at once
        self._rescan, self._uss = Budgeted(RESCAN_EVERY), Budgeted(USS_EVERY)

    def _list(self) -> None:
        pids = descendants(self.root)
        # A sampler, once seen, stays one; any other process is asked again at each listing,
        # since a sampler just started may not yet have its own command line.
        self._samplers &= {*pids, os.getpid()}
        self._samplers.update(p for p in pids if p not in self._samplers and is_sampler(p))
        self.pids = [p for p in pids if p not in self._samplers]
        self.reader.track(self.pids)

    def _read_uss(self, rss: int) -> None:
        value = sum(uss_bytes(p) for p in self.pids)
        self.peak_uss = max(self.peak_uss or 0, value)
        self._regrow_at = int(USS_REGROW * rss)

    def full(self) -> None:
        """A sample with everything read now: the descendants listed, RSS and USS."""
        self._list()
        rss = self.reader.rss_pages() * _PAGE
        self.samples += 1
        self.peak = max(self.peak, rss)
        self._read_uss(rss)

    def tick(self) -> None:
        """A sample: RSS always; the descendants and USS when due and within their budgets.

        It runs 105 times a second, each time just woken, its code and data cold: every
        line here costs a few microseconds on a virtual machine, so the common case is short.
        """
        rss = 0
        try:
            for fd in self.reader.fds:
                rss += int(_pread(fd, 64, 0).split()[1])
        except (OSError, IndexError, ValueError):  # a process ended
            rss = self.reader.rss_pages()
        rss *= _PAGE
        self.samples += 1
        if rss > self.peak:
            self.peak = rss
        n = self._n = self._n + 1
        if n % RESCAN_EVERY == 0 or rss > self._regrow_at:
            self._costly(n, rss)

    def _costly(self, n: int, rss: int) -> None:
        if self._rescan.due(n):
            cpu0 = time.thread_time()
            self._list()
            self._rescan.spent(time.thread_time() - cpu0)
        # USS is read within its budget, and whenever RSS has grown by a tenth since the last
        # reading, so that a fast-growing process is not missed.
        if self._uss.due(n) or rss > self._regrow_at:
            cpu0 = time.thread_time()
            self._read_uss(rss)
            self._uss.spent(time.thread_time() - cpu0)

    def close(self) -> None:
        self.reader.close()


def serve(root: int, interval_s: float) -> int:
    """The sampler process: answer commands on stdin, sample while started."""
    sampler = TreeSampler(root)
    sampling, due, cpu0, pending, n = False, 0.0, 0.0, b"", 0
    while True:
        n += 1
        if (not sampling or n % PARENT_EVERY == 0) and os.getppid() != root:
            return 0  # the process it measured is gone
        if sampling:
            delay = due - time.perf_counter()
            if delay < 0:
                due -= delay  # late: sample now, the next one interval later, no burst
                delay = 0.0
        else:
            delay = IDLE_CHECK_S
        if select.select([0], [], [], delay)[0]:
            data = os.read(0, 4096)
            if not data:
                return 0
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = line.strip()
                if command == b"start":
                    sampler.reset()
                    sampler.full()
                    sampling, due, cpu0 = (
                        True,
                        time.perf_counter() + interval_s,
                        time.process_time(),
                    )
                    os.write(1, b"ready %.6f\n" % time.process_time())
                elif command == b"stop":
                    sampler.full()
                    sampling = False
                    uss = -1 if sampler.peak_uss is None else sampler.peak_uss
                    cpu = time.process_time() - cpu0
                    os.write(
                        1, b"result %d %d %d %.6f\n" % (sampler.samples, sampler.peak, uss, cpu)
                    )
                elif command == b"quit":
                    return 0
            continue
        if sampling:
            sampler.tick()
            due += interval_s


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(argv) != 3 or argv[0] != MARKER:
        sys.stderr.write(f"usage: sampler.py {MARKER} ROOT_PID INTERVAL_S\n")
        return 2
    return serve(int(argv[1]), float(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
