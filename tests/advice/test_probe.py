"""The probe tells waiting from computing, and GIL-bound from GIL-releasing code."""

from __future__ import annotations

import threading

import pytest

from conlab.advice.profile import probe
from conlab.measure.environment import usable_cpus
from conlab.model import Task, Workload
from conlab.workloads import build
from tests.advice import tasks
from tests.helpers import on_two_free_cores

two_cores = pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable cores")


@pytest.mark.parametrize(
    "workload", [build("seed", sleep_s=0.01), tasks.sleeping()], ids=["seed", "sleep"]
)
def test_waiting_work_is_waiting(workload):
    result = probe(workload)
    assert result.kind == "io", result
    assert result.label == "waiting"
    assert result.overlap > 0.5  # waiting overlaps in threads


@two_cores
@pytest.mark.parametrize(
    "workload",
    [build("cpu", tasks=4, size=0.15), build("text", tasks=4, size=0.25), tasks.text()],
    ids=["cpu", "text", "text-like"],
)
def test_pure_python_holds_the_gil(workload):
    with workload.prepared():
        result = probe(workload)
    assert result.kind == "cpu", result
    assert result.label == "computing while holding the GIL"


def _numpy():
    pytest.importorskip("numpy", reason="numpy is in the conlab[numpy] extra")
    return build("numpy", tasks=4, n=384, rounds=8)


@two_cores
@pytest.mark.parametrize(
    "make",
    [
        lambda: tasks.hashing(tasks=4, size_mb=12),
        lambda: build("hash", tasks=4, size_mb=8, rounds=3),
        _numpy,
    ],
    ids=["hashlib", "hash", "numpy"],
)
def test_c_code_that_releases_the_gil(make):
    workload = make()

    def measure():
        with workload.prepared():
            result = probe(workload)
        if result.runqueue_s > 0.2 * result.duration_s:
            # Parallel C code needs a second free core; other programs held them all.
            pytest.skip(
                f"machine busy: {result.runqueue_s / result.duration_s:.0%} of a task "
                "waiting for a CPU"
            )
        return result

    # Two threads that did not run at once: the GIL, or a machine that cannot right now.
    result = on_two_free_cores(measure, lambda r: r.kind == "cpu-nogil")
    assert result.kind == "cpu-nogil", result
    assert result.thread_speedup is not None and result.thread_speedup > 1.3


def test_pickled_size_and_time_are_measured():
    result = probe(tasks.big_argument(tasks=2, size_mb=20))
    assert result.shipping.args_bytes >= 20 << 20
    assert result.shipping.dumps_args_s > 0 and result.shipping.loads_args_s > 0
    assert result.shipping.error is None


def test_an_unpicklable_argument_is_named():
    lock = threading.Lock()
    workload = Workload(name="locked", tasks=[Task(tasks.nap, (0.001,)), Task(id, (lock,))])
    result = probe(workload)
    assert "lock" in (result.shipping.error or ""), result.shipping
