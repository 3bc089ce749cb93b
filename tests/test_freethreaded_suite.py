"""conlab's in-process strategies under make pythons' free-threaded 3.13.5t, where threads run
at once: the contract's checks (every run verified, output kept per task) and the fault matrix.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conlab import resultfile
from conlab.strategies import make
from tests.faults.faults import BOUND_S, FAULT_IDS, FAULTS, GROWN, MIB, cell_argv
from tests.faults.test_matrix import _check, _run
from tests.helpers import ROOT, SRC
from tests.test_find_pythons import FT, need_cache

IN_PROCESS = [
    ("sequential", None, {}),
    ("threads", None, {}),
    ("thread-pool", 2, {}),
    ("asyncio", None, {}),
]


def test_in_process_strategies_verify_every_run_under_the_free_threaded_build():
    need_cache()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, ROOT]), "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHON_GIL", None)
    proc = subprocess.run(
        [FT, os.path.join(ROOT, "tests", "freethreaded_suite.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["problems"] == []
    assert out["gil_enabled"] is False
    # 3 catalogue workloads and the chatty one twice (in-process, sandboxed), every strategy.
    assert len(out["verified"]) == 6 + 5 + 5 + 5 + 5, out["verified"]


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
@pytest.mark.parametrize("spec", IN_PROCESS, ids=[s[0] for s in IN_PROCESS])
def test_fault_under_the_free_threaded_build(spec, fault, tmp_path):
    need_cache()
    strategy = make(spec[0], spec[1], **spec[2])
    json_path = str(tmp_path / "cell.json")
    argv = [*cell_argv(spec, fault, json_path), "--python", FT]
    if fault.name != "50 MB of output":
        _check(argv, json_path, strategy, fault)
        return
    # The output is bounded as everywhere, but not the printing process's growth: a bare
    # 3.13.5t script that writes 50 strings of 1 MiB to /dev/null from a thread, with two other
    # threads alive, grew its peak RSS by 11 to 50 MiB (3 MiB under 3.13.5): the free-threaded
    # build's allocator keeps freed pages until every thread is quiescent, with or without conlab.
    code, err, took_s = _run(argv)
    assert code == 0 and "Traceback" not in err and took_s < BOUND_S, (code, err)
    (comparison,) = resultfile.load(json_path).comparisons
    run = next(r for r in comparison.runs if r.strategy == strategy.name)
    before, hit, after = run.records
    assert (before.status, hit.status, after.status) == ("ok", "ok", "ok"), run.reason
    assert hit.output_dropped_chars > 49 * MIB and len(hit.output) < 256 * 1024
    assert "characters of output omitted" in hit.output and GROWN in hit.output
