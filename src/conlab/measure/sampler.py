"""The memory sampler of a process tree on Linux, and the process it runs in.

It reads ``/proc`` directly: the RSS of a root process and its live
descendants at 105 Hz; their USS (memory private to each process, which
forked children do not share) at up to 7 Hz, and early when the tree has
grown; the list of descendants at up to 13 Hz. Each costly step runs within
a share of one core (0.15 % for the listing, 0.2 % for USS, with 60 ms to
spare for early readings), which a sampler process keeps across the runs it
serves.

It runs in a process of its own (``python -S -E sampler.py --conlab-sampler
ROOT INTERVAL``), so that its wake-ups take no turn of the measured
process's GIL: as a thread there, it made a thread pool of trivial tasks
0.05x slower on average over five runs of benchmarks/sampler_costs.py
(-0.02x to +0.10x, within this VM's noise). Samplers leave themselves, and
each other, out of the tree they sum. This file imports only the standard
library: the sampler process starts without site-packages, in about 20 ms.

Protocol, one line each way on the sampler's stdin and stdout: ``start`` ->
``ready CPU_S`` (first sample taken; CPU_S its CPU time so far); ``stop`` ->
``result SAMPLES PEAK_RSS PEAK_USS CPU_S`` (a last sample taken; PEAK_USS -1
when unknown; CPU_S its own CPU time since ``start``); ``quit`` or end of
input ends it. It also ends when its parent does (it checks at each costly
step while sampling, and every half second when idle), and ignores Ctrl-C:
the process that started it stops it, after the run it measures.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

# 105 Hz: each sample is due at a fixed time (t0 + n * interval), so that sleep's overshoot
# of a fraction of a millisecond does not slow the rate.
SAMPLE_INTERVAL_S = 0.0095
# The costly steps are considered at one sample in COSTLY_EVERY (about 13 Hz): listing the
# descendants each time, reading USS at one time in USS_EVERY (about 7 Hz); each within its budget.
COSTLY_EVERY = 8
USS_EVERY = 2
# USS is read early (within the same budget) once RSS has grown by USS_REGROW since the last
# reading and stopped growing, or by USS_PLATEAU and held still between two costly steps, so that
# the USS of a process that grows fast is not missed, nor the level it settles at.
USS_REGROW, USS_PLATEAU = 1.25, 1.04
MARKER = "--conlab-sampler"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# How often an idle sampler process checks that its parent still lives.
IDLE_CHECK_S = 0.5
# A start within this long of the last USS reading, of the same tree, takes that reading again.
START_REUSE_S = 1.0


def _read(path: str) -> bytes:
    """A whole /proc file (os.read: no file object to build; most take one read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = chunk = os.read(fd, 4096)
        while chunk:
            chunk = os.read(fd, 4096)
            data += chunk
        return data
    finally:
        os.close(fd)


def children(pid: int) -> list[int]:
    """The children of ``pid`` (every thread's), from /proc."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            out.extend(int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split())
    except OSError:
        pass
    return out


def descendants(root: int, prune: frozenset[int] | set[int] = frozenset()) -> list[int]:
    """``root`` and every live descendant of it; those of the ``prune`` pids are not looked for."""
    pids, frontier = [root], [root]
    while frontier:
        frontier = [c for p in frontier if p not in prune for c in children(p)]
        pids.extend(frontier)
    return pids


def is_sampler(pid: int) -> bool:
    """Whether ``pid`` is a sampler process (its command line carries MARKER)."""
    try:
        return MARKER.encode() in _read(f"/proc/{pid}/cmdline").split(b"\0")
    except OSError:
        return False


def uss_bytes(pid: int) -> int:
    """Private memory of ``pid``: Private_Clean + Private_Dirty + Private_Hugetlb of smaps_rollup."""
    try:
        text = _read(f"/proc/{pid}/smaps_rollup")
        return sum(
            int(line.split()[1]) * 1024
            for line in text.splitlines()
            if line.startswith(b"Private_")
        )
    except (OSError, IndexError, ValueError):
        return 0


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


class Budget:
    """A share of one core for a costly step, spent as the step runs, with a little to spare.

    Reading smaps_rollup costs more the larger the process (it walks the page
    tables: about 12 us per MB here), and listing descendants more the more
    threads there are. The budget fills at ``share`` CPU seconds a second, up to
    ``spare_s``; a step may run while it is above zero, and is charged what it cost.
    """

    def __init__(self, share: float, spare_s: float = 0.0) -> None:
        self.share, self.spare_s = share, spare_s
        self.left_s, self.at = spare_s, time.perf_counter()

    def allows(self, now: float, spare: bool = True) -> bool:
        """Whether the step may run now: with what is kept to spare, or only when it is whole."""
        self.left_s = min(self.spare_s, self.left_s + (now - self.at) * self.share)
        self.at = now
        return self.left_s >= (0.0 if spare else self.spare_s)

    def spend(self, cpu_s: float) -> None:
        self.left_s -= cpu_s


class TreeSampler:
    """Peak RSS and USS of ``root`` and its descendants, samplers left out."""

    # Of one core: for listing the descendants; for reading USS, with enough to spare for the
    # early readings of a tree that grows to 400 MB (at 12 us per MB, 1.25x at a time: 24 ms)
    # when reading is slowed 2.5 times by a busy machine.
    LIST_SHARE = 0.0015
    USS_SHARE, USS_SPARE_S = 0.002, 0.06

    def __init__(self, root: int) -> None:
        self.root = root
        self.reader = StatmReader()
        self.pids: list[int] = []
        # This process, when it is a sampler process (a sampler thread's process is the root).
        self._self = {os.getpid()} - {root}
        self._samplers = set(self._self)
        self._unsure: set[int] = set()  # pids first seen at the last listing
        # The budgets hold across starts: a sampler process serves every run of a comparison.
        self._list_budget = Budget(self.LIST_SHARE)
        self._uss_budget = Budget(self.USS_SHARE, self.USS_SPARE_S)
        self._last_uss: tuple[float, list[int], int, int] = (-1e9, [], 0, 0)  # at, pids, RSS, USS
        self.reset()

    def reset(self) -> None:
        self.peak = 0
        self.peak_uss: int | None = None
        self.samples = 0
        self._checks = 0
        self._regrow_at = 0  # RSS above which USS is read again early
        self._read_rss = self._checked_rss = 0  # RSS at the last USS reading, at the last step

    def _list(self) -> None:
        pids = descendants(self.root, self._samplers)
        # A sampler, once seen, stays one (its children are not looked for). A process just
        # started may not yet have the command line it execs into: a pid is asked at the first
        # two listings that see it, then known.
        live = set(pids)
        self._samplers &= live | self._self
        known = set(self.pids)
        for p in pids:
            if p not in self._samplers and (p not in known or p in self._unsure) and is_sampler(p):
                self._samplers.add(p)
        self._unsure = {p for p in pids if p not in known} - self._samplers
        self.pids = [p for p in pids if p not in self._samplers]
        self.reader.track(self.pids)

    def _read_uss(self, rss: int, reuse_s: float = 0.0) -> None:
        """USS of the tree now; the last reading instead, if it is of the same processes at
        the same RSS (within 1 %) and under ``reuse_s`` old."""
        at, pids, then, value = self._last_uss
        now = time.perf_counter()
        if not (now - at < reuse_s and pids == self.pids and abs(rss - then) * 100 <= rss):
            value = sum(uss_bytes(p) for p in self.pids)
            self._last_uss = (now, self.pids, rss, value)
        self.peak_uss = max(self.peak_uss or 0, value)
        self._read_rss, self._regrow_at = rss, int(USS_REGROW * rss)

    def full(self, reuse_s: float = 0.0) -> None:
        """A sample with everything read now: the descendants listed, RSS and USS (the last
        reading of USS, if it is under ``reuse_s`` old and the tree is as it was).

        Its cost is charged to the budgets, so the readings between make up for it.
        """
        cpu0 = time.thread_time()
        self._list()
        cpu1 = time.thread_time()
        rss = self.reader.rss_pages() * _PAGE
        self.samples += 1
        self.peak = max(self.peak, rss)
        self._read_uss(rss, reuse_s)
        self._list_budget.spend(cpu1 - cpu0)
        self._uss_budget.spend(time.thread_time() - cpu1)

    def sample_until(self, fd: int, interval_s: float, parent: int | None = None) -> bool:
        """Sample every ``interval_s`` until ``fd`` can be read (a command, or a stop): True;
        or until this process's parent is no longer ``parent`` (checked at each costly step).

        It runs 105 times a second, each time just woken, its code and data cold:
        every line here costs microseconds on a virtual machine, so the loop holds
        only what each sample needs, in local names; the rest waits for a costly step.
        """
        pread, perf, wait, page = os.pread, time.perf_counter, select.select, _PAGE
        watch: list[int] = [fd]
        nothing: list[int] = []
        fds = self.reader.fds
        peak, samples, n, last, regrow_at = self.peak, 0, 0, 0, self._regrow_at
        due = perf() + interval_s
        try:
            while True:
                delay = due - perf()
                if delay < 0:
                    due -= delay  # late: sample now, the next one interval later, no burst
                    delay = 0.0
                if wait(watch, nothing, nothing, delay)[0]:
                    return True
                due += interval_s
                rss = 0
                try:
                    for f in fds:
                        rss += int(pread(f, 64, 0).split()[1])
                except (OSError, IndexError, ValueError):  # a process ended
                    rss = self.reader.rss_pages()
                    fds = self.reader.fds
                rss *= page
                samples += 1
                if rss > peak:
                    peak = rss
                n += 1
                # At one sample in COSTLY_EVERY; and early, for USS, when RSS has grown past
                # the mark and stopped growing (at a peak or a pause, not on the way up).
                if n == COSTLY_EVERY or regrow_at < rss <= last:
                    if parent is not None and os.getppid() != parent:
                        return False
                    regrow_at = self._costly(rss, n == COSTLY_EVERY)
                    fds, n = self.reader.fds, 0
                last = rss
        finally:
            self.peak, self.samples = peak, self.samples + samples

    def _costly(self, rss: int, periodic: bool) -> int:
        """The listing, periodically; USS periodically, or early when RSS has grown (past the
        mark, or a little and settled there). Each within its budget.

        Returns the RSS above which the sampling loop comes back early: none while the USS
        budget is spent (the next periodic step looks again).
        """
        now = time.perf_counter()
        if periodic:
            self._checks += 1
            if self._list_budget.allows(now):
                cpu0 = time.thread_time()
                self._list()
                self._list_budget.spend(time.thread_time() - cpu0)
        # A periodic reading takes only what the budget's share has refilled; an early one, of
        # growth, may use what it keeps to spare.
        budget = self._uss_budget
        settled = periodic and abs(rss - self._checked_rss) * 100 <= rss
        grown = rss > self._regrow_at or (settled and rss > USS_PLATEAU * self._read_rss)
        if periodic:
            self._checked_rss = rss
        if (grown and budget.allows(now)) or (
            periodic and self._checks % USS_EVERY == 0 and budget.allows(now, spare=False)
        ):
            cpu0 = time.thread_time()
            self._read_uss(rss)
            budget.spend(time.thread_time() - cpu0)
        return self._regrow_at if budget.left_s >= 0 else sys.maxsize

    def close(self) -> None:
        self.reader.close()


def _answer(line: bytes) -> None:
    os.write(1, line + b"\n")


def serve(root: int, interval_s: float) -> int:
    """The sampler process: answer commands on stdin, sample while started."""
    tree = TreeSampler(root)
    cpu0, pending = 0.0, b""
    while True:
        if b"\n" not in pending:
            if not select.select([0], [], [], IDLE_CHECK_S)[0]:
                if os.getppid() != root:
                    return 0  # the process it measured is gone
                continue
            data = os.read(0, 4096)
            if not data:
                return 0
            pending += data
            continue
        line, pending = pending.split(b"\n", 1)
        command = line.strip()
        if command == b"start":
            tree.reset()
            # A comparison starts its next run moments after the last one stopped: the tree is
            # then as that stop read it.
            tree.full(reuse_s=START_REUSE_S)
            cpu0 = time.process_time()
            _answer(b"ready %.6f" % cpu0)
            if b"\n" not in pending and not tree.sample_until(0, interval_s, parent=root):
                return 0
        elif command == b"stop":
            tree.full()
            uss = -1 if tree.peak_uss is None else tree.peak_uss
            cpu = time.process_time() - cpu0
            _answer(b"result %d %d %d %.6f" % (tree.samples, tree.peak, uss, cpu))
        elif command == b"quit":
            return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(argv) != 3 or argv[0] != MARKER:
        sys.stderr.write(f"usage: sampler.py {MARKER} ROOT_PID INTERVAL_S\n")
        return 2
    return serve(int(argv[1]), float(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
