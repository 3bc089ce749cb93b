"""The ray strategy on a local Ray started by the strategy (ray.init(num_cpus=N)), and shut down.

The comparison runs in a fresh interpreter, as a user's would, under whatever
launched the tests (`make test` runs them with `uv run`, which Ray's own uv
integration used to turn into workers without ray: see ray_strategy._import_ray).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT, SRC

pytest.importorskip("ray", reason="Ray is not installed (make setup installs conlab[ray])")

SCRIPT = textwrap.dedent(
    """
    import json, os
    from conlab.lab.compare import compare
    from conlab.model import Task
    from conlab.strategies import make
    from conlab.workloads import build
    from tests.strategies.test_contract import boom

    c = compare(build("seed", sleep_s=0.05), [make("ray", 2)], repeats=1, warmup=0)
    run, seq = c.run("ray"), c.run("sequential")
    failed = make("ray", 1).run([Task(boom)]).records[0]
    print(json.dumps({
        "status": run.status, "reason": run.reason, "floor_s": run.floor_s,
        "wall_s": run.median_wall_s, "startup_s": run.startup_s,
        "outputs": [r.output for r in run.records], "reference": [r.output for r in seq.records],
        "pids": [r.worker.pid for r in run.records if r.worker],
        "addresses": [r.worker.address for r in run.records if r.worker],
        "me": os.getpid(),
        "failed": [failed.status, failed.error, failed.traceback, failed.output],
    }))
    """
)


def _run(script):
    """The script in a fresh interpreter (a local Ray of its own), which must succeed."""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([SRC, ROOT])},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_seed_workload_is_valid_on_a_local_ray_and_errors_are_recorded():
    proc = _run(SCRIPT)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok", out["reason"]
    assert out["floor_s"] <= out["wall_s"] <= 1.5 * out["floor_s"] + 0.1
    assert out["startup_s"] and out["startup_s"][0] > 0
    assert out["outputs"] == out["reference"]
    assert out["me"] not in out["pids"] and all(out["addresses"])
    status, error, tb, output = out["failed"]
    assert status == "error" and error == "ValueError: boom on purpose"
    assert "in boom" in (tb or "") and output == "about to fail\n"


TIMEOUT_SCRIPT = textwrap.dedent(
    """
    import json
    from conlab.model import Task
    from conlab.strategies import make
    from tests.faults.faults import good, hangs, kills_itself

    # Two CPUs: the good task waits for one, and starts in a fresh worker once the
    # crash frees it; neither the wait nor loading its module counts against 0.5 s.
    records = make("ray", 2, timeout_s=0.5).run(
        [Task(kills_itself), Task(hangs), Task(good, (3,))]
    ).records
    print(json.dumps([[r.status, r.result, r.error, r.worker and r.worker.pid] for r in records]))
    """
)


@pytest.mark.slow
def test_with_a_timeout_a_late_task_is_cancelled_and_a_crash_names_its_process():
    proc = _run(TIMEOUT_SCRIPT)
    crashed, late, fine = json.loads(proc.stdout.strip().splitlines()[-1])
    assert crashed[0] == "crashed" and f"process {crashed[3]} died" in crashed[2]
    assert "Ray does not say how" in crashed[2]
    assert late[0] == "timeout" and "timeout of 0.5 s" in late[2]
    assert f"killed its worker process {late[3]}" in late[2]
    assert fine[:2] == ["ok", 9] and fine[3] not in (crashed[3], late[3])
