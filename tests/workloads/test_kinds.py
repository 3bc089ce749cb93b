"""Each workload's declared kind holds on this machine, measured as ratios within one test.

io gains with two threads; C code that releases the GIL gains with threads;
pure Python does not, and gains with two processes instead. Sizes are small,
yet each task is tens of milliseconds, so that start-up and noise stay minor.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

import pytest

from conlab.api import strategy_list
from conlab.lab.compare import compare
from conlab.measure.environment import usable_cpus
from conlab.workloads import build, unavailable_reason
from tests.helpers import needs_two_free_cores, on_two_free_cores

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable cores to show parallelism"),
]

IO = {
    "seed": {"sleep_s": 0.03},
    "sleep": {"tasks": 4, "sleep_s": 0.06},
    "http": {"tasks": 4, "requests": 2, "latency_s": 0.03},
    "files": {"tasks": 4, "files": 30, "size_kb": 64},
}
# This machine's virtual disk completes an fsync in about 0.5 ms and serialises
# concurrent ones, so the files workload is far from pure waiting here: two
# threads measured 1.23-1.43x over twelve runs (README, Workloads). It must
# still gain clearly; the 1.6x of the other io workloads does not hold for it.
IO_GAIN = {"files": 1.2}
NOGIL = {
    "hash": {"tasks": 4, "size_mb": 16, "rounds": 6},
    "numpy": {"tasks": 4, "n": 384, "rounds": 10},
}
PURE = {
    "cpu": {"tasks": 4, "size": 0.4},
    "text": {"tasks": 4, "size": 0.3},
}


def speedups(name, params, specs):
    reason = unavailable_reason(name)
    if reason:
        pytest.skip(f"{name}: {reason}")
    comparison = compare(build(name, **params), strategy_list(specs), repeats=3, warmup=1)
    for run in comparison.runs:
        assert run.status == "ok", f"{run.label}: {run.reason}"
    return {run.label: run.speedup for run in comparison.runs}


@pytest.mark.parametrize("name", list(IO))
def test_io_gains_with_two_threads(name):
    gains = speedups(name, IO[name], ["thread-pool:2"])
    if name == "files" and gains["thread-pool:2"] < IO_GAIN["files"]:
        needs_a_disk_that_overlaps_fsyncs()
    assert gains["thread-pool:2"] >= IO_GAIN.get(name, 1.6), gains


def _fsyncs(directory, tag, n=30, size=64 * 1024):
    data = os.urandom(size)
    for j in range(n):
        path = os.path.join(directory, f"{tag}-{j}")
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.remove(path)


def needs_a_disk_that_overlaps_fsyncs():
    """Skip, with the figure, when plain threads cannot overlap fsyncs on this disk right now.

    The disk is shared with other machines; when it serialises fsyncs, no
    strategy can gain on the files workload, and conlab's result cannot be judged.
    """
    with tempfile.TemporaryDirectory() as directory:
        t0 = time.perf_counter()
        _fsyncs(directory, "a")
        _fsyncs(directory, "b")
        one = time.perf_counter() - t0
        threads = [threading.Thread(target=_fsyncs, args=(directory, t)) for t in "cd"]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        gain = one / (time.perf_counter() - t0)
    if gain < IO_GAIN["files"]:
        pytest.skip(f"the disk is busy: two threads ran fsyncs only {gain:.2f}x faster than one")


@pytest.mark.parametrize("name", list(NOGIL))
def test_c_code_that_releases_the_gil_gains_with_threads(name):
    needs_two_free_cores()
    gains = on_two_free_cores(
        lambda: speedups(name, NOGIL[name], ["thread-pool:2"]),
        lambda g: g["thread-pool:2"] >= 1.5,
    )
    assert gains["thread-pool:2"] >= 1.5, gains


@pytest.mark.parametrize("name", list(PURE))
def test_pure_python_gains_with_processes_not_threads(name):
    needs_two_free_cores()
    gains = on_two_free_cores(
        lambda: speedups(name, PURE[name], ["thread-pool:2", "process-pool:2"]),
        lambda g: g["process-pool:2"] >= 1.6,
    )
    assert gains["thread-pool:2"] < 1.15, gains
    assert gains["process-pool:2"] >= 1.6, gains
