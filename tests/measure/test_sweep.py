"""Sweeps: real runs over worker counts and amounts of work, and their result file."""

from __future__ import annotations

import json

import pytest

from conlab import api, resultfile
from conlab.errors import UsageError
from conlab.lab.sweep import Sweep, sized, sweeps_in
from conlab.model import Comparison, Results, Run
from conlab.report import notebook
from conlab.report import text as report_text
from conlab.report.text import fit_sentence
from conlab.workloads import build


@pytest.mark.slow
def test_a_real_sweep_of_cpu_over_one_and_two_workers(tmp_path):
    workload = build("cpu", tasks=4, size=0.05)
    result = api.sweep(workload, "process-pool", [2, 1], repeats=2, warmup=0)
    # One comparison per worker count, each with the shared sequential reference.
    assert [c.sweep["workers"] for c in result.comparisons] == [1, 2]
    assert len({c.sweep["id"] for c in result.comparisons}) == 1
    for c in result.comparisons:
        assert [r.strategy for r in c.runs] == ["sequential", "process-pool"]
        assert all(r.status == "ok" for r in c.runs), [r.reason for r in c.runs]
    assert result.comparisons[0].runs[0] is result.comparisons[1].runs[0]
    points = result.points()
    assert [p.workers for p in points] == [1, 2]
    assert all(p.speedup is not None and p.efficiency == p.speedup / p.workers for p in points)
    fit = result.fit()
    assert fit is not None and 0.0 <= fit.low <= fit.serial_fraction <= fit.high <= 1.0
    assert "Amdahl fit: serial fraction" in report_text.sweep_text(result)
    assert "Amdahl fit" in notebook.sweep_html(result)
    # The result file keeps the sweep, and reading it back finds it again.
    path = tmp_path / "sweep.json"
    resultfile.write(Results({"python": "x"}, result.comparisons), str(path))
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev group) checks the file")
    jsonschema.validate(json.loads(path.read_text()), resultfile.json_schema())
    again = sweeps_in(resultfile.load(str(path)).comparisons)
    assert len(again) == 1 and again[0].strategy == "process-pool"
    assert [p.workers for p in again[0].points()] == [1, 2]
    refit = again[0].fit()
    assert refit is not None
    assert refit.serial_fraction == pytest.approx(fit.serial_fraction, abs=1e-6)


def test_sweeping_the_amount_of_work():
    seed = build("seed", sleep_s=0.005)
    result = api.sweep(seed, "thread-pool", [1, 2], tasks=[1, 2], repeats=1, warmup=0)
    assert sorted((c.tasks, c.sweep["workers"]) for c in result.comparisons) == [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
    ]
    assert result.task_counts == [1, 2]


def test_sized_builds_or_cuts_the_workload():
    assert len(sized("cpu", 3).tasks) == 3
    seed = sized("seed", 1)
    assert len(seed.tasks) == 1 and seed.expected is not None and len(seed.expected) == 1
    assert seed.task_durations_s is not None and len(seed.task_durations_s) == 1
    with pytest.raises(UsageError, match="at most 2"):
        sized("seed", 5)


def test_a_strategy_without_a_worker_count_cannot_be_swept():
    with pytest.raises(UsageError, match="no worker count to sweep"):
        api.sweep("seed", "threads", [1, 2])


def synthetic_sweep(cores: int | None) -> Sweep:
    """Serial fraction 0.1 up to 2 workers; beyond 2 cores, no faster (workers only queue)."""
    reference = Run("sequential", 1, wall_s=[1.0, 1.0, 1.0])
    comparisons = []
    for n in (1, 2, 4, 8):
        wall = 0.1 + 0.9 / min(n, 2)
        run = Run("process-pool", n, wall_s=[wall] * 3, speedup=1 / wall)
        sweep = {"id": "x", "strategy": "process-pool", "workers": n, "tasks": 8}
        comparisons.append(Comparison("cpu", "cpu", 8, runs=[reference, run], sweep=sweep))
    return sweeps_in(comparisons, cores)[0]


def test_the_fit_leaves_out_workers_beyond_the_cores():
    within = synthetic_sweep(cores=2)
    assert within.fitted_workers() == [1, 2]
    fit = within.fit()
    assert fit is not None and fit.serial_fraction == pytest.approx(0.1)
    assert "over 1–2 workers" in fit_sentence(within)
    # Without knowing the cores, the queueing beyond them reads as a larger serial fraction.
    blind = synthetic_sweep(cores=None).fit()
    assert blind is not None and blind.serial_fraction > 0.2


def test_a_serial_fraction_that_cannot_be_told_from_zero_gives_no_ceiling():
    # Waiting work scales with the workers: the fitted fraction is about 0, and 1/f (2625.9x
    # in a seed sweep) is no figure.
    reference = Run("sequential", 1, wall_s=[1.0, 1.0, 1.0])
    comparisons = []
    for n, wall in ((1, 1.0), (2, 0.5002), (4, 0.2503), (8, 0.1249)):
        run = Run("thread-pool", n, wall_s=[wall, wall * 1.01, wall * 0.99], speedup=1 / wall)
        sweep = {"id": "x", "strategy": "thread-pool", "workers": n, "tasks": 8}
        comparisons.append(Comparison("sleep", "io", 8, runs=[reference, run], sweep=sweep))
    sentence = fit_sentence(sweeps_in(comparisons, 8)[0])
    assert "none in sight" in sentence and "×);" not in sentence.split("ceiling")[1], sentence
    assert "ceiling with unlimited workers: 10.0×" in fit_sentence(synthetic_sweep(cores=2))
