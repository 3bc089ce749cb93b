"""The fault matrix: every fault (tests/faults/faults.py) against every strategy and start method.

Each cell runs three tasks, the fault between two good ones, and checks the
records (faults.run_cell) and (the autouse fixture) that no child process remains.

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

import pytest

from conlab.model import CRASHED, TIMEOUT
from tests.conftest import START_METHODS
from tests.faults import clusters
from tests.faults.faults import FAULT_IDS, FAULTS, run_cell, strategy_for

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
def test_fault(spec, fault, request):
    strategy = strategy_for(spec, fault)
    if reason := strategy.unavailable_reason():
        pytest.skip(f"{strategy.name} cannot run here: {reason}")
    if spec[0] not in CLUSTERS:
        run_cell(strategy, fault)
        return
    cluster = request.getfixturevalue(CLUSTERS[spec[0]])
    hit = run_cell(strategy_for(spec, fault, **cluster.options), fault)
    # What died or was stopped has been replaced, and nothing else was left behind.
    killed = hit.status in (CRASHED, TIMEOUT)
    cluster.check(killed, {hit.worker.pid} if killed and hit.worker else set())
