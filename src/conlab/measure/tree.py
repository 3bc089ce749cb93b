"""Probes of the process tree during a run: CPU time and peak memory.

CPU time is the user + system time of this process and of every child it has
waited for (``RUSAGE_CHILDREN``): strategies join their workers before they
return, so every worker, including those that already exited, is counted.
Peak memory is the largest sum of RSS (and of USS) over this process and its
live descendants, sampled at 105 Hz. On Linux the sampler (sampler.py) runs
in a process of its own, so that it takes no turn of this process's GIL; it
reads ``/proc``, which costs microseconds per sample. Where that process
cannot be started it runs as a thread here; elsewhere a thread uses psutil
when present. A comparison keeps one sampler process for all its runs
(``sampler_session``). The probe also counts the CPU time the rest of the
machine used during the run (``/proc/stat``), so that a busy machine can be
told apart from a slow strategy, and the sampler's own CPU time, so that its
cost is known and left out of the tree's.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from conlab.measure import sampler
from conlab.measure.cpu import children_cpu_s as children_cpu_s
from conlab.measure.cpu import load_average, machine_cpu_s, tree_cpu_s
from conlab.measure.cpu import machine_busy_cpu_s as machine_busy_cpu_s
from conlab.measure.cpu import pid_cpu_s as pid_cpu_s
from conlab.measure.cpu import self_cpu_s as self_cpu_s
from conlab.measure.descendants import Descendants, descendants_cpu_s, descendants_used_s
from conlab.measure.sampler import SAMPLE_INTERVAL_S

try:
    import psutil
except ImportError:  # pragma: no cover - bare interpreters
    psutil = None

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HAS_PROC = os.path.exists(f"/proc/{os.getpid()}/statm")
# How long a sampler process may take to start, or to answer.
SAMPLER_TIMEOUT_S = 10.0


def _rss_linux(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


_HAS_ROLLUP = os.path.exists(f"/proc/{os.getpid()}/smaps_rollup")


def tree_uss_bytes(pids: list[int]) -> int | None:
    """Sum of USS over ``pids``, or None where the platform cannot tell."""
    if _HAS_ROLLUP:
        return sum(sampler.uss_bytes(p) for p in pids)
    if psutil is not None:
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_full_info().uss
            except (psutil.Error, AttributeError):
                return None
        return total
    return None


def tree_rss_bytes(root: int, pids: list[int] | None = None) -> tuple[int, list[int]]:
    """Sum of RSS over ``root`` and its descendants (samplers left out), and the pids summed."""
    if _HAS_PROC:
        if pids is None:
            pids = [p for p in sampler.descendants(root) if not sampler.is_sampler(p)]
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
    # CPU seconds the hypervisor gave to other guests while this machine's CPUs wanted them.
    steal_s: float | None = None


class _SamplerFailed(Exception):
    """The sampler process could not be started, or stopped answering."""


class _SamplerProcess:
    """A sampler process (sampler.py) measuring this process's tree, and the pipes to it."""

    def __init__(self, interval_s: float) -> None:
        if not sys.executable or getattr(sys, "frozen", False):
            # A frozen application's executable runs the application, not a script.
            raise _SamplerFailed("no Python executable to start a sampler with")
        command = [sys.executable, "-S", "-E", sampler.__file__, sampler.MARKER]
        try:
            self.proc = subprocess.Popen(
                [*command, str(os.getpid()), repr(interval_s)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
            )
        except OSError as exc:
            raise _SamplerFailed(str(exc)) from exc
        self.owner = os.getpid()
        self.busy = threading.Lock()  # held by the probe that uses it: one at a time
        self.broken = False
        self._pending = b""

    def ask(self, command: bytes) -> list[bytes]:
        """Send ``command``; its answer's words."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            os.write(self.proc.stdin.fileno(), command + b"\n")
            fd = self.proc.stdout.fileno()
            deadline = time.monotonic() + SAMPLER_TIMEOUT_S
            while b"\n" not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise _SamplerFailed(f"the sampler did not answer {command!r}")
                data = os.read(fd, 4096)
                if not data:
                    raise _SamplerFailed("the sampler ended")
                self._pending += data
        except OSError as exc:
            raise _SamplerFailed(str(exc)) from exc
        line, self._pending = self._pending.split(b"\n", 1)
        return line.split()

    def close(self) -> float:
        """End the sampler and reap it; the CPU seconds it used in all (0 when unknown).

        One marked broken (it stopped answering, or its probe was abandoned) is killed at once.
        """
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        if self.broken:
            with contextlib.suppress(OSError):
                proc.kill()
        with contextlib.suppress(OSError):
            os.write(proc.stdin.fileno(), b"quit\n")
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            deadline = time.monotonic() + 5
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.001)
        except ChildProcessError:  # reaped elsewhere
            proc.returncode = proc.returncode if proc.returncode is not None else 0
            return 0.0
        except BaseException:  # Ctrl-C while it ends: it must not outlive this process
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        return float(usage.ru_utime + usage.ru_stime)


_session: _SamplerProcess | None = None


@contextlib.contextmanager
def sampler_session() -> Iterator[None]:
    """One sampler process for every probe started inside, instead of one per probe.

    A comparison's runs share it: starting a sampler costs about 20 ms.
    """
    global _session
    if not _HAS_PROC or (_session is not None and _session.owner == os.getpid()):
        yield
        return
    try:
        session = _SamplerProcess(SAMPLE_INTERVAL_S)
    except _SamplerFailed:
        yield
        return
    _session = session
    try:
        yield
    finally:
        _session = None
        session.close()


def _forget_session() -> None:
    global _session
    _session = None  # a forked child's probes start samplers of their own


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_session)


class TreeProbe:
    """Measures CPU time and peak memory of this process tree between start() and stop()."""

    # Without /proc (the psutil thread), the descendants are listed and USS read this often.
    RESCAN_EVERY, USS_EVERY = 8, 16

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S, *, process: bool = True) -> None:
        """``process=False`` samples in a thread of this process even where a sampler process
        could be started (benchmarks/sampler_costs.py compares the two)."""
        self.interval_s = interval_s
        self._use_process = process
        self._stopping = False
        self._stopped = False
        self._wake_r = self._wake_w = -1  # the sampler thread's stop cue, a pipe
        self._tree: sampler.TreeSampler | None = None  # the sampler thread's, on /proc
        self._thread: threading.Thread | None = None
        self._process: _SamplerProcess | None = None
        self._own_process = False
        self._ready_cpu_s = 0.0
        self._peak = 0
        self._peak_uss: int | None = None
        self._samples = 0
        self._cpu0 = 0.0
        self._busy0: tuple[float, float] | None = None
        self._live0: Descendants = {}
        self._t0 = 0.0
        self._load: float | None = None
        self._sampler_cpu_s = 0.0
        self._sampler_machine_s: float | None = None  # when not _sampler_cpu_s
        self._can_sample = _HAS_PROC or psutil is not None

    def start(self) -> TreeProbe:
        # The sampler first: its start-up is not part of what is measured.
        if _HAS_PROC and self._use_process:
            self._start_process()
        if self._process is None and self._can_sample:
            if _HAS_PROC:
                # The thread's sampler takes the first sample here, before the run starts.
                self._tree = sampler.TreeSampler(os.getpid())
                self._tree.full()
                self._wake_r, self._wake_w = os.pipe()  # written to at stop(): the thread's cue
            else:
                self._sample(None, uss=True)
            self._thread = threading.Thread(target=self._loop, name="conlab-probe", daemon=True)
            self._thread.start()
        self._load = load_average()
        self._busy0 = machine_cpu_s()
        self._live0 = descendants_cpu_s()
        self._t0 = time.perf_counter()
        self._cpu0 = tree_cpu_s()
        return self

    def _start_process(self) -> None:
        """Sample in a process of its own: the comparison's (sampler_session), or a new one."""
        session = _session
        own = not (
            session is not None
            and session.owner == os.getpid()
            and not session.broken
            and session.busy.acquire(blocking=False)
        )
        try:
            process = _SamplerProcess(self.interval_s) if own else session
            assert process is not None
        except _SamplerFailed:
            return
        try:
            answer = process.ask(b"start")
            self._ready_cpu_s = float(answer[1])
        except BaseException as exc:  # Ctrl-C too: a sampler of its own must not outlive the probe
            process.broken = True
            if own:
                process.close()
            else:
                process.busy.release()
            if isinstance(exc, (_SamplerFailed, IndexError, ValueError)):
                return
            raise
        self._process, self._own_process = process, own

    def _stop_process(self, process: _SamplerProcess) -> float:
        """Stop sampling; the sampler's CPU seconds already counted in this tree's CPU time."""
        try:
            answer = process.ask(b"stop")
            samples, peak, uss, cpu = (
                int(answer[1]),
                int(answer[2]),
                int(answer[3]),
                float(answer[4]),
            )
        except (_SamplerFailed, IndexError, ValueError):
            # It died or stopped answering: the peak as of now, and no cost known.
            process.broken = True
            samples, peak, uss, cpu = 0, 0, -1, 0.0
            self._sample(None, uss=True)
        except BaseException:
            if self._own_process:
                process.close()
            raise
        finally:
            if not self._own_process:
                process.busy.release()
        self._samples += samples
        self._peak = max(self._peak, peak)
        if uss >= 0:
            self._peak_uss = max(self._peak_uss or 0, uss)
        if not self._own_process:
            # A comparison's sampler is reaped after it: none of its CPU time is in the tree's yet.
            self._sampler_cpu_s = self._sampler_machine_s = cpu
            return 0.0
        # Reaped now, all of its CPU time is in the tree's. What it used while it sampled is its
        # cost; what it used after its start-up was used by the machine during the probe.
        total = process.close()
        self._sampler_cpu_s = cpu
        self._sampler_machine_s = max(cpu, total - self._ready_cpu_s)
        return total

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
        cpu0 = time.thread_time()
        if self._tree is not None:
            self._loop_proc(self._tree)
        else:
            # time.sleep, not Event.wait: waking costs half as much, and stop() waits one interval.
            pids: list[int] | None = None
            n = 1
            while not self._stopping:
                time.sleep(self.interval_s)
                pids = self._sample(
                    None if n % self.RESCAN_EVERY == 0 else pids, n % self.USS_EVERY == 0
                )
                n += 1
        self._sampler_cpu_s = time.thread_time() - cpu0

    def _loop_proc(self, tree: sampler.TreeSampler) -> None:
        """The sampler as a thread of this process, where no sampler process could be started."""
        try:
            tree.sample_until(self._wake_r, self.interval_s)
        finally:
            tree.close()
        self._samples += tree.samples
        self._peak = max(self._peak, tree.peak)
        if tree.peak_uss is not None:
            self._peak_uss = max(self._peak_uss or 0, tree.peak_uss)

    def abandon(self) -> None:
        """Stop at once, without a result (Ctrl-C while measuring): nothing waits on the sampler.

        A sampler of its own is killed; the comparison's is given back marked broken, so that
        sampler_session kills it too rather than waiting for it to quit.
        """
        if self._stopped:
            return
        self._stopped = True
        process = self._process
        if process is not None:
            process.broken = True
            if self._own_process:
                process.close()
            else:
                process.busy.release()
        elif self._thread is not None and not self._stopping:
            self._stopping = True  # a daemon thread: woken by the pipe, or at its next sample
            if self._tree is not None:
                os.write(self._wake_w, b"x")
            self._thread.join(timeout=2 * self.interval_s)
            if self._tree is not None and not self._thread.is_alive():
                os.close(self._wake_r)
                os.close(self._wake_w)

    def stop(self) -> ProbeResult:
        in_tree = 0.0  # the sampler's CPU seconds counted in tree_cpu_s
        if self._process is not None and not self._stopped:
            in_tree = self._stop_process(self._process)
        elif self._thread is not None and not self._stopping:
            self._stopping = True
            if self._tree is not None:
                os.write(self._wake_w, b"x")
            self._thread.join()
            if self._tree is not None:
                os.close(self._wake_r)
                os.close(self._wake_w)
            self._sample(None, uss=True)
            in_tree = self._sampler_cpu_s
        self._stopped = True
        wall = time.perf_counter() - self._t0
        # The sampler's own CPU time is the probe's cost, not the work's.
        cpu = max(0.0, tree_cpu_s() - self._cpu0 - in_tree)
        live1 = descendants_cpu_s()
        busy1 = machine_cpu_s()
        other = steal = None
        if self._busy0 is not None and busy1 is not None:
            sampler_s = self._sampler_machine_s
            sampler_s = self._sampler_cpu_s if sampler_s is None else sampler_s
            # What the run's live processes used (a forkserver's workers) is this tree's too,
            # though not yet in tree_cpu_s.
            live = descendants_used_s(self._live0, live1)
            other = max(0.0, busy1[0] - self._busy0[0] - cpu - live - sampler_s)
            steal = max(0.0, busy1[1] - self._busy0[1])
        return ProbeResult(
            cpu_s=cpu,
            peak_rss_bytes=self._peak if self._can_sample else None,
            samples=self._samples,
            wall_s=wall,
            peak_uss_bytes=self._peak_uss,
            other_cpu_s=other,
            load_avg=self._load,
            sampler_cpu_s=self._sampler_cpu_s,
            steal_s=steal,
        )

    def __enter__(self) -> TreeProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if not self._stopped:
            self.stop()
