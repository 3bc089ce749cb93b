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
