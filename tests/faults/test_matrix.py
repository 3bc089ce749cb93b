"""The fault matrix: every fault (tests/faults/faults.py) against every strategy and start method.

Each cell is one ``conlab compare`` command as a user types it, without
``--isolate``: a ``module:factory`` workload of three tasks, the fault between
two good ones (faults.cell). The cell checks the command (it ends within a
bound, exit code 0, no traceback), the result file (every record, its status
and cause: faults.check_cell) and that no process of the command remains, even
orphaned: the command runs in a session of its own, which the no-orphan check
watches (tests/conftest.py).

A strategy that cannot run under this Python but can under the machine's 3.13
(interpreters) runs there through conlab's own ``--python``. A new strategy
joins by adding one line to STRATEGIES. The asyncio strategy runs each fault's
async variant, as the lab gives it a workload's: the same function called from
a coroutine, and a hang that awaits.

Dask and Ray cells run on one cluster per module (tests/faults/clusters.py),
given to the command by --scheduler or --ray-address, which each cell then
checks: its workers back, the dead one not among them. Dask gets one worker
per task: it assigns every task to a worker at once, so a good task queued
behind the fault would die with the fault's worker and run again; that is
Dask's doing, not the fault's, and not what a cell is about.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conlab import resultfile
from conlab.model import CRASHED, TIMEOUT
from conlab.strategies import make
from tests import conftest
from tests.conftest import START_METHODS
from tests.faults import clusters
from tests.faults.faults import BOUND_S, FAULT_IDS, FAULTS, cell_argv, check_cell
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
def test_fault(spec, fault, request, tmp_path):
    strategy = make(spec[0], spec[1], **spec[2])
    json_path = str(tmp_path / "cell.json")
    if reason := strategy.unavailable_reason():
        if spec[0] in CLUSTERS or sys.version_info[:2] == (3, 13) or PY313 is None:
            pytest.skip(f"{strategy.name} cannot run here: {reason}")
        argv = [*cell_argv(spec, fault, json_path), "--python", PY313]
        request.node.user_properties.append(("python", PY313.rsplit("/", 3)[-3]))
        hit = _check(argv, json_path, strategy, fault)
    elif spec[0] in CLUSTERS:
        cluster = request.getfixturevalue(CLUSTERS[spec[0]])
        hit = _check(
            cell_argv(spec, fault, json_path, **cluster.options), json_path, strategy, fault
        )
        # What died or was stopped has been replaced, and nothing else was left behind.
        killed = hit.status in (CRASHED, TIMEOUT)
        cluster.check(killed, {hit.worker.pid} if killed and hit.worker else set())
    else:
        _check(cell_argv(spec, fault, json_path), json_path, strategy, fault)


def _check(argv, json_path, strategy, fault):
    """Run the cell's command in a session of its own; check how it ended and its file."""
    code, err, took_s = _run(argv)
    assert "Traceback" not in err, err
    results = resultfile.load(json_path)
    # The documented exit code: 1 when the command ran and no run was valid.
    valid = any(run.status == "ok" for c in results.comparisons for run in c.runs)
    assert code == (0 if valid else 1), (code, err)
    assert took_s < BOUND_S, f"the command took {took_s:.1f} s"
    return check_cell(results, strategy.name, strategy.ships_to, fault)


def _run(argv):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, ROOT]), "COLUMNS": "160"}
    t = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conlab", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    conftest.watched_sessions.add(proc.pid)
    try:
        _, err = proc.communicate(timeout=BOUND_S * 2)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, err, time.monotonic() - t
