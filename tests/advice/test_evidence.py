"""Advice follows its evidence: the verification decides, the probe warms up, a task's own threads
are counted, async code gets asyncio, advise(fn, items) works, and an unguarded script runs once."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

import conlab
from conlab.advice import advise
from conlab.measure.environment import usable_cpus
from conlab.workloads.user import function_workload
from tests.advice import tasks
from tests.helpers import SRC, on_two_free_cores

THREADS = ("threads", "thread-pool")
PROCESSES = ("processes", "process-pool")


def test_the_verification_overrides_a_misled_prediction():
    tasks._calls = itertools.count()
    workload = function_workload(tasks.misled, range(16))
    advice = advise(workload, strategies=["thread-pool"], workers=8, repeats=3, warmup=1)
    # The probe saw 0.2 ms of computing under the GIL: threads cannot pay, a loop is predicted.
    assert advice.probe.duration_s < 0.005, advice.probe.duration_s
    assert advice.overridden is not None, advice.why
    assert advice.overridden["predicted"]["strategy"] == "sequential"
    assert advice.chosen.strategy in THREADS
    assert advice.overridden["faster"] > 0.5
    assert advice.why.startswith("The prediction was wrong: it chose sequential")
    data = advice.to_dict()
    assert data["strategy"] == advice.chosen.strategy and data["overridden"] is not None
    assert data["capacity_at_verification"] is not None


def test_conlab_advise_takes_a_function_and_items_like_compare():
    advice = conlab.advise(tasks.nap, [0.01] * 4, verify=False)
    assert advice.workload.name == "nap" or "nap" in advice.workload.name
    assert advice.probe.tasks == 4
    assert advice.chosen.strategy in (*THREADS, "sequential", "asyncio")
    with pytest.raises(conlab.UsageError, match="give the inputs"):
        conlab.advise(tasks.nap)


def test_async_code_gets_asyncio():
    advice = conlab.advise(tasks.fetch, range(16), verify=False)
    assert advice.chosen.strategy == "asyncio", advice.why


@pytest.mark.skipif(usable_cpus() < 2, reason="own threads show on two cores or more")
def test_a_task_running_blas_threads_is_recognised_and_not_given_processes():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("numpy")
    workload = function_workload(tasks.matmul, range(8))

    def measure():
        with threadpoolctl.threadpool_limits(2):
            return advise(workload, verify=False)

    advice = on_two_free_cores(measure, lambda a: a.probe.own_cores >= 1.3)
    assert advice.probe.own_cores >= 1.3, advice.probe
    assert advice.probe.cores_per_task == advice.probe.own_cores
    assert "cores busy by itself" in advice.why
    # Two workers of two BLAS threads each want four cores: no process strategy gains here.
    assert not (advice.chosen.strategy in PROCESSES and advice.chosen.workers >= 2), advice.why


def test_the_probe_does_not_time_the_first_call():
    calls = []

    def first_call_slow(x):
        import time

        calls.append(x)
        time.sleep(0.3 if len(calls) == 1 else 0.001)
        return x

    advice = advise(function_workload(first_call_slow, range(8)), verify=False)
    assert advice.probe.duration_s < 0.05, advice.probe.duration_s


SCRIPT = """
import conlab
with open({count!r}, "a") as f:
    f.write("ran\\n")
advice = conlab.advise("sleep", verify=False)
print(advice.chosen.strategy)
"""


def test_a_script_without_a_main_guard_runs_its_top_level_once(tmp_path):
    _runs_its_top_level_once(tmp_path, SCRIPT)


EXPLAIN_SCRIPT = """
from conlab.api import explain
with open({count!r}, "a") as f:
    f.write("ran\\n")
lesson = explain(quick=True)
print(len(lesson.rows))
"""


def test_a_script_without_a_main_guard_explains_once(tmp_path):
    # The lesson prices a process pool under every start method and starts processes of its
    # own: under spawn and forkserver each would import the script, which explains anew.
    _runs_its_top_level_once(tmp_path, EXPLAIN_SCRIPT)


def _runs_its_top_level_once(tmp_path, template: str) -> None:
    """Run the script ``template`` (which appends "ran" to ``{count}``) as a user would."""
    count = tmp_path / "count.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(template.format(count=str(count)))
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert count.read_text().splitlines() == ["ran"], proc.stdout
