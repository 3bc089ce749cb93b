"""Real results to draw: small runs, measured once per test module."""

from __future__ import annotations

import time

import pytest

from conlab.lab.compare import compare
from conlab.measure import environment
from conlab.model import Results, Task, Workload
from conlab.strategies import make
from conlab.workloads import build

HOSTILE = "<script>alert(1)</script>"


def hostile(n):
    """A task whose name and output are HTML: a report must show them as text."""
    print(f"<b>not bold</b> {n} & <img src=x onerror=alert(2)>")
    time.sleep(0.005)
    return n


def hostile_workload() -> Workload:
    return Workload(
        "hostile",
        [Task(hostile, (1,), name=HOSTILE), Task(hostile, (2,), name="plain")],
        kind="io",
        expected=[1, 2],
    )


def measured_results() -> Results:
    """The lesson's workload under threads and processes, and a workload with hostile names."""
    seed = compare(
        build("seed", sleep_s=0.005),
        [make("thread-pool", 2), make("process-pool", 2)],
        repeats=1,
        warmup=0,
        title="waiting work",
    )
    seed.notes.append("the machine was busy: <noise> & co")
    seed.advice = {
        "strategy": "thread-pool",
        "workers": 2,
        "chunksize": None,
        "why": "thread-pool <b>2</b>: waiting, <i>io</i>",
        "predicted_s": 0.04,
        "measured_s": 0.041,
        "predictions": [{"strategy": "thread-pool", "workers": 2, "total_s": 0.04}],
        "verification": [],
    }
    odd = compare(hostile_workload(), [make("threads")], repeats=1, warmup=0)
    return Results(environment.collect(), [seed, odd])


@pytest.fixture(scope="module")
def results() -> Results:
    return measured_results()
