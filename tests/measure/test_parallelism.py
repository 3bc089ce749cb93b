"""CPU/wall never exceeds the cores the machine has: start-up's CPU is left out with its time."""

from __future__ import annotations

import glob

import pytest

from conlab import resultfile
from conlab.api import compare
from conlab.measure.environment import usable_cpus
from conlab.model import RUN_OK, Comparison
from conlab.strategies import REGISTRY
from conlab.strategies.base import CLUSTER
from tests.helpers import run_cli

# CPU time is read in clock ticks in places (a worker's /proc/<pid>/stat): a few per cent more.
TOLERANCE = 1.05
LOCAL = [name for name, cls in REGISTRY.items() if cls.family != CLUSTER]


def _assert_within_the_cores(c: Comparison, cores: int) -> None:
    for run in c.runs:
        if run.status != RUN_OK:
            continue
        assert run.parallelism is not None
        assert run.parallelism <= cores * TOLERANCE, (run.label, run.parallelism, run.cpu_s)


def test_every_local_strategy_stays_within_the_usable_cores() -> None:
    c = compare("cpu", LOCAL, params={"tasks": 4, "size": 0.1}, repeats=1, warmup=0)
    assert sum(run.status == RUN_OK for run in c.runs) >= 4
    _assert_within_the_cores(c, usable_cpus())


PY313 = (sorted(glob.glob("/root/.pyenv/versions/3.13.*/bin/python")) or [None])[-1]


@pytest.mark.skipif(PY313 is None, reason="needs a CPython 3.13 under /root/.pyenv/versions")
def test_subinterpreters_start_up_is_not_counted_in_their_cpu(tmp_path) -> None:
    # interpreters:2 under 3.13 showed CPU/wall 2.99 on 2 cores: its start-up was in its CPU.
    out = tmp_path / "interp.json"
    args = ["compare", "cpu", "--strategies", "interpreters:2", "--param", "tasks=2"]
    args += ["--param", "size=0.05", "--repeats", "2", "--warmup", "0"]
    proc = run_cli([*args, "--python", str(PY313), "--json", str(out)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = resultfile.load(str(out))
    (c,) = results.comparisons
    interp = c.run("interpreters")
    assert interp.status == RUN_OK, interp.reason
    _assert_within_the_cores(c, int(results.environment_of(c)["usable_cpus"]))
