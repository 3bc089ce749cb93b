"""The probes against real processes: CPU time of a child, peak memory of a child, parallelism."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from conlab.lab.compare import compare
from conlab.measure import tree as probe
from conlab.measure.environment import usable_cpus
from conlab.strategies import make
from conlab.workloads import build
from tests.helpers import on_two_free_cores

CTX = multiprocessing.get_context(
    "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
)
MB = 1 << 20


def burn_cpu(seconds: float) -> None:
    """Spin until this process has used ``seconds`` of CPU time."""
    while time.process_time() < seconds:
        pass


def hold_memory(size_bytes: int, hold_s: float) -> None:
    """Allocate ``size_bytes``, touch every page so it is resident, and keep it ``hold_s``."""
    block = bytearray(size_bytes)
    for i in range(0, size_bytes, 4096):
        block[i] = 1
    time.sleep(hold_s)
    del block


def test_cpu_of_a_child_that_exited_is_counted() -> None:
    with probe.TreeProbe() as p:
        child = CTX.Process(target=burn_cpu, args=(0.5,))
        child.start()
        child.join()
        result = p.stop()
    assert child.exitcode == 0
    assert result.cpu_s == pytest.approx(0.5, abs=0.1)


def test_peak_memory_of_a_child_holding_200_mb() -> None:
    baseline, _ = probe.tree_rss_bytes(os.getpid())
    with probe.TreeProbe() as p:
        child = CTX.Process(target=hold_memory, args=(200 * MB, 0.5))
        child.start()
        child.join()
        result = p.stop()
    assert child.exitcode == 0
    assert result.peak_rss_bytes is not None
    assert result.peak_rss_bytes - baseline >= 200 * MB
    if result.peak_uss_bytes is not None:
        # The child's 200 MB are private to it: USS sees most of them (read more rarely).
        assert result.peak_uss_bytes >= 180 * MB


def test_sampler_runs_at_100_hz_or_more_and_counts_itself() -> None:
    with probe.TreeProbe() as p:
        time.sleep(0.5)
        result = p.stop()
    # Generous: a loaded machine delays wake-ups; the benchmark checks the rate strictly.
    assert result.samples >= 0.5 * 100 * 0.5
    assert result.sampler_cpu_s > 0
    assert result.wall_s >= 0.5


def test_waiting_work_has_parallelism_near_zero() -> None:
    c = compare(build("seed", sleep_s=0.05), [make("thread-pool", 2)], repeats=1, warmup=0)
    run = c.run("thread-pool")
    assert run.parallelism is not None
    assert run.parallelism < 0.1


@pytest.mark.slow
@pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable cores")
def test_computing_work_parallelism_process_pool_vs_thread_pool() -> None:
    workload = build("cpu", tasks=4, size=0.3)
    strategies = [make("thread-pool", 2), make("process-pool", 2)]

    def measure():
        c = compare(workload, strategies, repeats=1, warmup=0)
        pool, threads = c.run("process-pool"), c.run("thread-pool")
        busy = max(pool.other_cores + threads.other_cores, default=0.0)
        if busy > 0.5:
            pytest.skip(f"the machine is busy (other programs used {busy:.1f} cores): cannot judge")
        return pool, threads

    pool, threads = on_two_free_cores(measure, lambda r: (r[0].parallelism or 0) > 1.6)
    assert threads.parallelism is not None and threads.parallelism < 1.2
    assert pool.parallelism is not None and pool.parallelism > 1.6


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="the sampler process needs /proc")
@pytest.mark.parametrize("in_session", [False, True], ids=["own sampler", "comparison's"])
def test_an_abandoned_probe_waits_on_no_sampler(in_session: bool) -> None:
    # Ctrl-C while a run is measured: the repeat is not kept, and nothing waits for the
    # sampler to answer or to quit (the Ctrl-C tests allow 5 s from the signal to the exit).
    import contextlib

    from conlab.measure import sampler

    session = probe.sampler_session() if in_session else contextlib.nullcontext()
    t0 = time.monotonic()
    with session:
        p = probe.TreeProbe().start()
        samplers = [pid for pid in sampler.children(os.getpid()) if sampler.is_sampler(pid)]
        assert samplers, "no sampler process was started"
        p.abandon()
        p.abandon()  # a second time changes nothing
    assert time.monotonic() - t0 < 1.0
    assert not [pid for pid in samplers if pid in sampler.children(os.getpid())]


def test_an_abandoned_probe_sampling_in_a_thread_ends_the_thread() -> None:
    # Where no sampler process can be started, a thread samples: abandoned, it ends at once.
    p = probe.TreeProbe(process=False).start()
    assert p._thread is not None
    t0 = time.monotonic()
    p.abandon()
    assert time.monotonic() - t0 < 1.0 and not p._thread.is_alive()
