"""The ray strategy on a local Ray started by the strategy (ray.init(num_cpus=N)), and shut down."""

from __future__ import annotations

import os

import pytest

from conlab.measure.lab import compare
from conlab.model import RUN_OK, Task
from conlab.strategies import make
from conlab.workloads import build
from tests.strategies.test_contract import boom

pytest.importorskip("ray", reason="Ray is not installed (make setup installs conlab[ray])")


@pytest.mark.slow
def test_seed_workload_is_valid_on_a_local_ray_and_errors_are_recorded():
    # One test: Ray takes seconds to start, each run starts and stops its own.
    workload = build("seed", sleep_s=0.05)
    c = compare(workload, [make("ray", 2)], repeats=1, warmup=0)
    run = c.run("ray")
    assert run.status == RUN_OK, run.reason
    assert run.floor_s is not None and run.floor_s <= run.median_wall_s <= 1.5 * run.floor_s + 0.1  # type: ignore[operator]
    assert run.startup_s and run.startup_s[0] > 0
    assert [r.output for r in run.records] == [r.output for r in c.run("sequential").records]
    pids = {r.worker.pid for r in run.records if r.worker}
    assert os.getpid() not in pids and all(r.worker and r.worker.address for r in run.records)
    failed = make("ray", 1).run([Task(boom)]).records[0]
    assert failed.status == "error" and failed.error == "ValueError: boom on purpose"
    assert "in boom" in (failed.traceback or "") and failed.output == "about to fail\n"
