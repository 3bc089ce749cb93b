"""The fault matrix: every fault (tests/faults/faults.py) against every strategy and start method.

Each cell runs three tasks, the fault between two good ones, and checks the
records (faults.run_cell) and (the autouse fixture) that no child process remains.
A strategy that cannot run under this Python but can under the machine's 3.13
(interpreters) has its cells run there, by tests/faults/cell.py in a child process.

A new strategy joins by adding one line to STRATEGIES. In-process strategies run
isolated (in a sandbox process): a segfault there would otherwise end the test run.
The asyncio strategy runs each fault's async variant, as the lab gives it a
workload's: the same function called from a coroutine, and a hang that awaits.

Dask and Ray cells run on one cluster per module (tests/faults/clusters.py),
which each cell then checks: its workers back, the dead one not among them.
Dask gets one worker per task: it assigns every task to a worker at once, so
a good task queued behind the fault would die with the fault's worker and run
again; that is Dask's doing, not the fault's, and not what a cell is about.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conlab.model import CRASHED, TIMEOUT
from tests import conftest
from tests.conftest import START_METHODS
from tests.faults import clusters
from tests.faults.faults import BOUND_S, FAULT_IDS, FAULTS, run_cell, strategy_for
from tests.helpers import ROOT, SRC
from tests.test_pythons import PY313

# One entry per strategy and start method: (name, workers, options).
STRATEGIES = [
    ("sequential", None, {}),
    ("threads", None, {}),
    ("thread-pool", 2, {}),
    ("interpreters", 2, {}),
    ("asyncio", None, {}),
    *[("processes", None, {"start_method": m}) for m in START_METHODS],
    *[("process-pool", 2, {"start_method": m}) for m in START_METHODS],
    ("dask", 3, {}),
    ("ray", 2, {}),
]
# The strategies that run on a shared cluster, and the fixture that gives it.
CLUSTERS = {"dask": "dask_cluster", "ray": "ray_cluster"}
STRATEGY_IDS = [f"{n}{'/' + o['start_method'] if o else ''}" for n, _, o in STRATEGIES]
CHILD_BOUND_S = BOUND_S + 30  # a cell in a child process: its run, and the child's start-up


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    with clusters.dask_cluster(3, str(tmp_path_factory.mktemp("dask"))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    with clusters.ray_cluster(2, str(tmp_path_factory.mktemp("ray"))) as cluster:
        yield cluster


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("spec", STRATEGIES, ids=STRATEGY_IDS)
def test_fault(spec, fault, request):
    strategy = strategy_for(spec, fault)
    if reason := strategy.unavailable_reason():
        if spec[0] in CLUSTERS or sys.version_info[:2] == (3, 13):
            pytest.skip(f"{strategy.name} cannot run here: {reason}")
        _run_under_3_13(spec, fault, f"{strategy.name} cannot run here ({reason})", request)
    elif spec[0] in CLUSTERS:
        cluster = request.getfixturevalue(CLUSTERS[spec[0]])
        hit = run_cell(strategy_for(spec, fault, **cluster.options), fault)
        # What died or was stopped has been replaced, and nothing else was left behind.
        killed = hit.status in (CRASHED, TIMEOUT)
        cluster.check(killed, {hit.worker.pid} if killed and hit.worker else set())
    else:
        run_cell(strategy, fault)


def _run_under_3_13(spec, fault, why_not_here, request):
    """The cell, run by the machine's CPython 3.13 in a child process of a session of its own.

    The no-orphan check watches that session, so that what the child leaves
    behind is found even once orphaned. The cell records the child's Python
    for the reliability table (tests/faults/conftest.py).
    """
    if PY313 is None:
        pytest.skip(f"{why_not_here}, and no CPython 3.13 is under /root/.pyenv/versions")
    cmd = [PY313, "-s", "-m", "tests.faults.cell", json.dumps(spec), fault.name]
    env = {"PYTHONPATH": os.pathsep.join([SRC, ROOT]), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    conftest.watched_sessions.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=CHILD_BOUND_S)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, err
    report = json.loads(out.splitlines()[-1])
    request.node.user_properties.append(("python", report["python"]))
    if report["outcome"] == "skipped":
        pytest.skip(report["why"])
    assert report["outcome"] == "passed", f"under Python {report['python']}: {report['why']}"
