"""advise --python 3.13t: on a free-threaded build, threads are predicted for pure Python."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli
from tests.test_find_pythons import need_cache


def _advise(tmp_path, python: str) -> dict:
    out = tmp_path / f"advice-{python}.json"
    argv = ["advise", "cpu", "--param", "tasks=8", "--param", "size=0.5", "--no-verify"]
    proc = run_cli([*argv, "--python", python, "--json", str(out)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"Under CPython 3.13.5{'t' if python.endswith('t') else ''} (" in proc.stdout
    (comparison,) = json.loads(out.read_text())["comparisons"]
    return comparison["advice"]


def _predicted_s(advice: dict, strategy: str, workers: int) -> float:
    return next(
        p["total_s"]
        for p in advice["predictions"]
        if p["strategy"] == strategy and p["workers"] == workers
    )


def test_threads_are_predicted_like_processes_on_the_free_threaded_build(tmp_path):
    need_cache()
    for _ in range(3):
        advice = _advise(tmp_path, "3.13t")
        probe = advice["probe"]
        assert probe["gil_enabled"] is False
        if probe["parallel_capacity"] >= 1.7 and probe["pair_cpu_concurrency"] >= 1.5:
            break
    else:
        pytest.skip(
            f"the machine is busy: capacity {probe['parallel_capacity']:.2f} cores, two threads' "
            f"CPU {probe['pair_cpu_concurrency']:.2f}x their wall time in the probe"
        )
    seq = _predicted_s(advice, "sequential", 1)
    threads = _predicted_s(advice, "thread-pool", 2)
    assert probe["overlap"] >= 0.5 and "free-threaded" in probe["label"], probe
    # All computing: the CPU timeline was read (no GIL) but has no blocks to tell apart.
    assert probe["bursts"] is None and probe["alignment"] == 0.0, probe
    assert threads < 0.7 * seq, (threads, seq)
    assert advice["strategy"] != "sequential", advice["why"]


def test_the_gil_build_of_the_same_source_does_not_predict_threads(tmp_path):
    need_cache()
    advice = _advise(tmp_path, "3.13")
    probe = advice["probe"]
    assert probe["gil_enabled"] is True and probe["overlap"] < 0.5, probe
    assert probe["bursts"] is None, probe  # read only where the GIL is off
    seq = _predicted_s(advice, "sequential", 1)
    assert _predicted_s(advice, "thread-pool", 2) > 0.9 * seq
