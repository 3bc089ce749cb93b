"""Tasks that misbehave politely: KeyboardInterrupt, SystemExit and NaN are what they are."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest

from conlab.api import compare
from conlab.model import Task, Workload
from tests.helpers import SRC


def raises(kind, x):
    if x == 1:
        raise kind("from the task")
    return x


def nan_result(x):
    return {"value": math.nan, "values": [x, math.nan]}


STRATEGIES = ["sequential", "thread-pool:2", "process-pool:2"]


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit])
def test_a_task_raising_an_interrupt_is_its_error(kind):
    tasks = [Task(raises, (kind, k), name=f"t{k}") for k in range(3)]
    comparison = compare(Workload("polite", tasks, kind="cpu"), STRATEGIES, repeats=1, warmup=0)
    for run in comparison.runs:
        assert run.status == "failed", (run.label, run.reason)
        assert f"'t1' error: {kind.__name__}: from the task" in run.reason
        assert [r.status for r in run.records] == ["ok", "error", "ok"]


def test_nan_results_verify():
    tasks = [Task(nan_result, (k,)) for k in range(2)]
    comparison = compare(Workload("nan", tasks, kind="cpu"), STRATEGIES, repeats=1, warmup=0)
    assert [r.status for r in comparison.runs] == ["ok"] * len(STRATEGIES), [
        r.reason for r in comparison.runs
    ]


def test_a_real_ctrl_c_still_stops_a_task():
    code = (
        "import time\n"
        "from conlab.api import compare\n"
        "from conlab.model import Task, Workload\n"
        "w = Workload('nap', [Task(time.sleep, (30,))], kind='io')\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    compare(w, ['sequential'], repeats=1, warmup=0, isolate=False)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert child.stdout.readline() == "started\n"
    time.sleep(1.5)
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    assert out == "interrupted\n"


def forks_a_child(directory, x):
    child = subprocess.Popen(["sleep", "300"])
    with open(os.path.join(directory, f"{child.pid}.pid"), "w"):
        pass
    return x


@pytest.mark.parametrize("strategy", ["sequential", "thread-pool:2", "process-pool:2", "processes"])
def test_a_tasks_child_is_stopped_with_the_run(tmp_path, strategy):
    tasks = [Task(forks_a_child, (str(tmp_path), k)) for k in range(2)]
    comparison = compare(Workload("forks", tasks, kind="io"), [strategy], repeats=1, warmup=0)
    assert all(r.status == "ok" for r in comparison.runs), [r.reason for r in comparison.runs]
    pids = [int(name.split(".")[0]) for name in os.listdir(tmp_path)]
    assert len(pids) >= 2 * len(comparison.runs)  # two tasks a run, each one child
    alive = [pid for pid in pids if _alive(pid)]
    assert not alive, f"children left running: {alive}"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
