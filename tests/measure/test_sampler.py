"""The sampler process: left out of what it measures, gone with its parent, replaced when it fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conlab.measure import sampler
from conlab.measure import tree as probe
from tests.helpers import SRC, run_python

pytestmark = pytest.mark.skipif(
    not probe._HAS_PROC, reason="the sampler process reads /proc (Linux)"
)
MB = 1 << 20


def samplers() -> list[psutil.Process]:
    """This process's sampler children."""
    return [p for p in psutil.Process().children() if sampler.is_sampler(p.pid)]


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def test_a_probe_samples_in_a_process_of_its_own_and_reaps_it() -> None:
    p = probe.TreeProbe().start()
    try:
        (child,) = samplers()
        assert child.cmdline()[-3] == sampler.MARKER
        time.sleep(0.2)
    finally:
        result = p.stop()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert samplers() == []
    assert result.samples >= 10 and result.sampler_cpu_s > 0
    assert result.peak_rss_bytes is not None and result.peak_uss_bytes is not None


def test_a_session_keeps_one_sampler_for_every_probe_inside() -> None:
    with probe.sampler_session():
        (child,) = samplers()
        for _ in range(3):
            with probe.TreeProbe() as p:
                assert samplers() == [child]
                time.sleep(0.05)
                result = p.stop()
            assert result.samples >= 3
    assert gone_within(child.pid, 5)
    assert samplers() == []


def test_samplers_are_left_out_of_the_tree_they_measure() -> None:
    with probe.sampler_session():
        (session,) = samplers()
        summed, pids = probe.tree_rss_bytes(os.getpid())
        with probe.TreeProbe() as p:
            time.sleep(0.1)
            result = p.stop()
        sampler_rss = session.memory_info().rss
    assert os.getpid() in pids and session.pid not in pids
    assert sampler_rss > 4 * MB
    assert result.peak_rss_bytes is not None
    # This tree (which does not grow in the probe) without its sampler, not with it.
    assert abs(result.peak_rss_bytes - summed) < min(2 * MB, sampler_rss / 2)


def test_a_sampler_ends_when_the_process_it_measures_is_killed() -> None:
    code = """
import sys, time
from conlab.measure import tree as probe
with probe.sampler_session():
    p = probe.TreeProbe().start()
    print(p._process.proc.pid, flush=True)
    time.sleep(60)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        assert sampler.is_sampler(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # Its parent gone, it notices within a few samples (its parent is checked every 16).
        assert gone_within(pid, 3), "the sampler outlived the process it measured"
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_sampler_ignores_ctrl_c_and_is_stopped_by_its_probe() -> None:
    p = probe.TreeProbe().start()
    try:
        (child,) = samplers()
        child.send_signal(signal.SIGINT)
        time.sleep(0.1)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    finally:
        result = p.stop()
    assert result.samples >= 5
    assert gone_within(child.pid, 1)


@pytest.mark.parametrize("how", ["no executable", "frozen application"])
def test_without_a_sampler_process_the_probe_samples_in_a_thread(monkeypatch, how) -> None:
    if how == "no executable":
        monkeypatch.setattr(sys, "executable", "")
    else:
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    with probe.TreeProbe() as p:
        assert samplers() == []
        time.sleep(0.2)
        result = p.stop()
    assert result.samples >= 10 and result.sampler_cpu_s > 0
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes > 4 * MB


def test_a_sampler_that_dies_mid_probe_costs_the_run_nothing_but_its_samples() -> None:
    p = probe.TreeProbe().start()
    (child,) = samplers()
    child.kill()
    child.wait(5)
    result = p.stop()
    # The peak as of the stop, read here; the run is measured all the same.
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes > 4 * MB
    assert result.cpu_s >= 0 and samplers() == []


def test_the_sampler_file_runs_without_site_packages_and_says_how_to_use_it() -> None:
    done = subprocess.run(
        [sys.executable, "-S", "-E", sampler.__file__], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"usage: sampler.py {sampler.MARKER} ROOT_PID INTERVAL_S"


@pytest.mark.parametrize("session", [False, True], ids=["own-sampler", "session"])
def test_the_sampler_cpu_time_is_left_out_of_the_tree(session: bool) -> None:
    # Its own sampler is reaped at the probe's end (its CPU time then in the tree's, taken out);
    # a session's is reaped after the probe (none of it in the tree's).
    code = f"""
import contextlib, time
from conlab.measure import tree as probe
with probe.sampler_session() if {session} else contextlib.nullcontext():
    with probe.TreeProbe() as p:
        time.sleep(2.0)
        r = p.stop()
print(r.cpu_s, r.sampler_cpu_s)
"""
    cpu, sampler_cpu = (float(v) for v in run_python(code, timeout=60).split())
    # 105 wake-ups a second cost more than 10 ms in two seconds; sleeping costs this process none.
    assert sampler_cpu > 0.01
    assert cpu < 0.01, f"a sleeping probe measured {cpu:.3f} s of CPU"


def test_two_probes_at_once_in_a_session_each_get_a_sampler() -> None:
    # The session's sampler serves one probe at a time; the second starts its own.
    with probe.sampler_session():
        (session,) = samplers()
        first = probe.TreeProbe().start()
        second = probe.TreeProbe().start()
        assert len(samplers()) == 2 and session in samplers()
        time.sleep(0.05)
        results = [second.stop(), first.stop()]
        assert samplers() == [session]
        third = probe.TreeProbe().start()
        assert samplers() == [session]
        results.append(third.stop())
    assert all(r.samples >= 2 and r.peak_rss_bytes for r in results)


GROWING_TREE = """
import json, multiprocessing, os, threading, time
from conlab.measure import sampler

def grow(step_bytes, steps, pause_s, hold_s):
    blocks = []
    for _ in range(steps):
        block = bytearray(step_bytes)
        block[::4096] = b"\\1" * len(block[::4096])
        blocks.append(block)
        time.sleep(pause_s)
    time.sleep(hold_s)

class CountedTree(sampler.TreeSampler):
    reads, cpu_s, most_s = 0, 0.0, 0.0

    def _read_uss(self, rss, reuse_s=0.0):
        cpu0 = time.thread_time()
        super()._read_uss(rss, reuse_s)
        cost = time.thread_time() - cpu0
        self.reads, self.cpu_s, self.most_s = self.reads + 1, self.cpu_s + cost, max(self.most_s, cost)

tree = CountedTree(os.getpid())
tree.full()
child = multiprocessing.get_context("fork").Process(target=grow, args=(%d << 20, %d, 0.02, 0.6))
r, w = os.pipe()
t0 = time.perf_counter()
thread = threading.Thread(target=tree.sample_until, args=(r, sampler.SAMPLE_INTERVAL_S))
thread.start()
child.start()
child.join()
os.write(w, b"x")
thread.join()
wall = time.perf_counter() - t0
print(json.dumps(dict(reads=tree.reads, cpu_s=tree.cpu_s, most_s=tree.most_s, wall=wall,
                      peak=tree.peak, peak_uss=tree.peak_uss, allowed=tree.USS_SHARE * wall
                      + tree.USS_SPARE_S)))
"""


def test_a_fast_growing_tree_gets_early_uss_readings_within_their_budget() -> None:
    # In a small fresh interpreter, a child grows by 8 MB every 20 ms to 320 MB, pausing
    # between steps, then holds it 0.6 s and ends: RSS passes the regrowth mark again and
    # again. USS is read early while the budget allows, so the child's USS is seen before it
    # ends, and the readings' CPU time stays within the budget (but for the last reading's).
    got = json.loads(run_python(GROWING_TREE % (8, 40), timeout=60))
    assert got["peak"] >= 320 * MB
    assert got["reads"] >= 3, "a growing tree's USS is read before the stop"
    assert got["cpu_s"] <= got["allowed"] + got["most_s"], got
    assert got["peak_uss"] >= 300 * MB, got


def test_a_process_not_yet_a_sampler_when_first_seen_is_asked_again() -> None:
    # Forked, it carries its parent's command line until it execs: a sampler started so is
    # known as one at the next listing; a process that is no sampler is not asked a third time.
    late = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; time.sleep(0.2); "
            f"os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', "
            f"{sampler.MARKER!r}])",
        ]
    )
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    asked: list[int] = []
    real = sampler.is_sampler
    tree = sampler.TreeSampler(os.getpid())
    try:
        sampler.is_sampler = lambda pid: asked.append(pid) or real(pid)  # type: ignore[assignment]
        tree._list()
        assert late.pid in tree.pids and plain.pid in tree.pids
        time.sleep(0.6)
        tree._list()
        assert late.pid not in tree.pids and plain.pid in tree.pids
        tree._list()
        assert asked.count(plain.pid) == 2 and asked.count(late.pid) == 2
    finally:
        sampler.is_sampler = real  # type: ignore[assignment]
        tree.close()
        for proc in (late, plain):
            proc.kill()
            proc.wait()


def test_a_start_takes_the_last_uss_reading_of_the_same_tree_again(monkeypatch) -> None:
    # A comparison starts its next run moments after the last stopped: USS is not read again
    # for the same processes at the same RSS; it is once the tree has grown, or in time.
    reads: list[int] = []
    real = sampler.uss_bytes
    monkeypatch.setattr(sampler, "uss_bytes", lambda pid: reads.append(pid) or real(pid))
    tree = sampler.TreeSampler(os.getpid())
    try:
        tree.full()
        first = len(reads)
        tree.full(reuse_s=1.0)
        assert len(reads) == first and tree.peak_uss
        block = bytearray(64 * MB)
        block[::4096] = b"\1" * len(block[::4096])
        tree.full(reuse_s=1.0)
        assert len(reads) == 2 * first, "the tree grew: read again"
        time.sleep(0.3)
        tree.full(reuse_s=0.2)
        assert len(reads) == 3 * first, "the reading is too old: read again"
        del block
    finally:
        tree.close()
