"""The interpreters strategy: subinterpreters on the 3.13 of this machine, unavailable before."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conlab.lab.compare import compare
from conlab.model import RUN_UNAVAILABLE
from conlab.strategies import make
from conlab.workloads import build
from tests.helpers import SRC
from tests.test_pythons import PY313

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from conlab.lab.compare import compare
    from conlab.model import Task
    from conlab.strategies import make
    from conlab.workloads import build

    def in_main(x):
        return x

    out = {}
    c = compare(build("seed", sleep_s=0.05), [make("interpreters", 2)], 1, 0)
    run, seq = c.run("interpreters"), c.run("sequential")
    out["seed"] = {
        "status": run.status, "reason": run.reason, "wall": run.median_wall_s,
        "floor": run.floor_s, "startup": run.startup_s,
        "same_output": [r.output for r in run.records] == [r.output for r in seq.records],
        "pids": sorted({r.worker.pid for r in run.records}), "me": os.getpid(),
        "threads": len({r.worker.thread for r in run.records}),
    }
    lam = lambda: 1  # noqa: E731
    lam.__module__ = "json"  # importable module, yet the lambda cannot be found in it
    tasks = [Task(in_main, (1,)), Task(lam, name="lam"), Task(int, ("x",)), Task(abs, (-3,))]
    records = make("interpreters", 2).run(tasks).records
    out["tasks"] = [[r.status, r.error, r.result, bool(r.traceback)] for r in records]
    print(json.dumps(out))
    """
)


def test_on_python_3_13_subinterpreters_run_capture_and_record_errors():
    if PY313 is None:
        pytest.skip("needs the pyenv Python 3.13 under /root/.pyenv/versions")
    proc = subprocess.run(
        [PY313, "-s", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    seed = out["seed"]
    assert seed["status"] == "ok", seed["reason"]
    assert seed["floor"] <= seed["wall"] <= 1.5 * seed["floor"] + 0.05
    assert seed["startup"] and seed["startup"][0] > 0
    assert seed["same_output"], "each task's output is captured inside its subinterpreter"
    assert seed["pids"] == [seed["me"]] and seed["threads"] == 2
    in_main, lam, bad, good = out["tasks"]
    assert in_main[0] == "error" and "__main__" in in_main[1] and "module" in in_main[1]
    assert lam[0] == "error" and "the callable of task 'lam'" in lam[1]
    assert "cannot be sent to a subinterpreter" in lam[1] and "module level" in lam[1]
    assert bad[0] == "error" and bad[1].startswith("ValueError: invalid literal") and bad[3]
    assert good[:3] == ["ok", None, 3]


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="checks the message of older interpreters")
def test_before_3_13_it_is_unavailable_and_says_why():
    c = compare(build("seed", sleep_s=0.01), [make("interpreters", 2)], 1, 0)
    run = c.run("interpreters")
    assert run.status == RUN_UNAVAILABLE
    assert "3.13" in (run.reason or "") and "--python" in (run.reason or "")
