"""Recommendations: threads for waiting, processes for pure Python on several cores, and the
costs that change the answer (pickling a large argument, a single core)."""

from __future__ import annotations

import json
import os

import pytest

import conlab
from conlab import resultfile
from conlab.advice import advise
from conlab.errors import UnknownNameError, UsageError
from conlab.measure.environment import usable_cpus
from conlab.model import Results
from conlab.workloads import build
from tests.advice import tasks
from tests.helpers import assert_one_line_error, on_two_free_cores, run_cli, run_python

THREADS = ("threads", "thread-pool")
PROCESSES = ("processes", "process-pool")


@pytest.mark.parametrize(
    "workload",
    [build("seed", sleep_s=0.01), build("http", tasks=4, requests=2, latency_s=0.02)],
    ids=["seed", "http"],
)
def test_waiting_work_gets_a_thread_strategy(workload):
    advice = advise(workload, verify=False)
    assert advice.chosen.strategy in THREADS, advice.why
    assert "waiting" in advice.why


@pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable cores")
def test_cpu_gets_a_process_strategy():
    # Processes pay only where two cores are free: the probe measures the capacity it predicts
    # from, and on a machine others keep busy (capacity 1.0) a loop is the right advice.
    advice = on_two_free_cores(
        lambda: advise(build("cpu", size=0.15), verify=False),
        lambda a: a.chosen.strategy in PROCESSES,
    )
    assert advice.chosen.strategy in PROCESSES, advice.why
    assert advice.chosen.workers >= 2
    assert advice.chosen.chunksize is not None or advice.chosen.strategy == "processes"


def test_a_200_mb_argument_makes_processes_slower_than_threads():
    advice = advise(tasks.big_argument(tasks=2, size_mb=200), verify=False)
    ok = [p for p in advice.predictions if p.unavailable is None]
    best_thread = min(p.total_s for p in ok if p.strategy in THREADS)
    best_process = min(p.total_s for p in ok if p.strategy in PROCESSES)
    assert advice.probe.shipping.args_bytes >= 200 << 20
    assert best_process > best_thread
    # The gap is the pickling: at least the time to pickle and unpickle one argument.
    ship = advice.probe.shipping
    assert best_process - best_thread >= ship.dumps_args_s + ship.loads_args_s
    assert advice.chosen.strategy not in PROCESSES


ONE_CORE = """
import json, os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from conlab.advice import advise
from conlab.workloads import build
advice = advise(build("cpu", tasks=4, size=0.15), verify=False)
print(json.dumps({"cores": advice.probe.cores, "predictions": [p.to_dict() for p in advice.predictions],
                  "chosen": advice.chosen.strategy}))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_on_one_core_nothing_beats_sequential_for_pure_python():
    out = json.loads(run_python(ONE_CORE))
    assert out["cores"] == 1
    predicted = {(p["strategy"], p["workers"], str(p["options"])): p for p in out["predictions"]}
    sequential = next(p["total_s"] for p in predicted.values() if p["strategy"] == "sequential")
    faster = [k for k, p in predicted.items() if not p["unavailable"] and p["total_s"] < sequential]
    assert not faster, faster
    assert out["chosen"] == "sequential"


def test_verification_runs_the_choice_and_the_runner_up(tmp_path):
    advice = conlab.advise(build("seed", sleep_s=0.01), repeats=1, warmup=0)
    assert advice.comparison is not None
    labels = [v.prediction.strategy for v in advice.verified]
    assert labels[0] == "sequential" and advice.chosen.strategy in labels
    assert advice.runner_up is not None and advice.runner_up.strategy in labels
    for v in advice.verified:
        assert v.measured_s is not None and v.measured_s > 0
    # The seed workload's floor is known: the prediction of the choice lands near it.
    assert abs(advice.verified_for(advice.chosen).error) < 0.5
    path = tmp_path / "advice.json"
    resultfile.write(Results({"python": "x"}, [advice.comparison]), str(path))
    loaded = resultfile.load(str(path)).comparisons[0].advice
    assert loaded["strategy"] == advice.chosen.strategy
    assert loaded["measured_s"] == pytest.approx(advice.verified_for(advice.chosen).measured_s)
    assert loaded["why"] == advice.why and loaded["predictions"]


def test_bad_input_to_the_api():
    with pytest.raises(UnknownNameError, match="did you mean 'seed'"):
        conlab.advise("sed")
    with pytest.raises(UsageError, match="workers"):
        advise(build("seed"), workers=0)
    with pytest.raises(UsageError, match="repeats"):
        advise(build("seed"), repeats=0)
    with pytest.raises(UnknownNameError, match="strategy"):
        advise(build("seed"), strategies=["thread-poll"])
    with pytest.raises(UsageError, match="Workload"):
        advise("seed")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "contains"),
    [
        (["advise", "sed"], "did you mean 'seed'"),
        (["advise", "seed", "--workers", "0"], "at least 1"),
        (["advise", "seed", "--strategies", "thread-poll"], "unknown strategy"),
        (["advise", "seed", "--start-method", "teleport"], "invalid choice"),
        (["advise", "nosuchmodule:func"], "nosuchmodule:func"),
        (["advise", "seed", "--json", "/no/such/dir/out.json"], "does not exist"),
        (["advise"], "WORKLOAD"),
        # advise measures with its own bounds and sandbox: the options are not its own.
        (["advise", "seed", "--timeout", "5"], "see 'conlab advise --help'"),
        (["advise", "seed", "--isolate"], "unrecognized arguments: --isolate"),
        (["advise", "seed", "--scheduler", "tcp://127.0.0.1:1"], "unrecognized arguments"),
    ],
)
def test_bad_input_on_the_command_line(args, contains):
    assert_one_line_error(run_cli(args), 2, contains)


def test_advise_on_the_command_line_writes_the_advice(tmp_path):
    path = tmp_path / "out.json"
    proc = run_cli(["advise", "seed", "--no-verify", "--explain-model", "--json", str(path)])
    assert proc.returncode == 0, proc.stderr
    assert "Recommendation:" in proc.stdout and "Why:" in proc.stdout
    assert "The model:" in proc.stdout
    advice = resultfile.load(str(path)).comparisons[0].advice
    assert advice["strategy"] in THREADS and advice["measured_s"] is None
    shown = run_cli(["show", str(path)])
    assert shown.returncode == 0 and "Recommendation:" in shown.stdout
