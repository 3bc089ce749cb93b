"""SIGTERM, SIGHUP and SIGKILL of conlab mid-run: no process of its left 2 s later.

What ``timeout``, a CI runner, a closed terminal or a stopped container send.
SIGTERM and SIGHUP end conlab as Ctrl-C does: exit 143 or 129, children
stopped, the result file written and marked incomplete. SIGKILL cannot be
handled: the children notice their parent's death themselves (lifeline.py),
a pool's resource tracker follows them, and Dask's processes have their own.

The task (faults.naps_in_a_child) returns at once in conlab's own process and
sleeps in a child, noting its pid: the signal is sent once the strategy's
children are running it. ``--in-process`` keeps the sequential reference in
conlab's process, so that the children found are the strategy's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from conlab import resultfile
from conlab.model import RUN_INCOMPLETE
from tests.conftest import START_METHODS
from tests.helpers import ROOT, SRC, marked_processes

SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
EXIT_CODES = {signal.SIGTERM: 143, signal.SIGHUP: 129}
# (strategy spec, extra arguments, how many children run the tasks)
CASES = [
    ("threads", [], 1),  # the user's code in its sandbox
    *[("process-pool:2", ["--start-method", m, "--in-process"], 2) for m in START_METHODS],
    ("processes", ["--start-method", "spawn", "--in-process"], 2),
    ("dask:2", ["--in-process"], 1),  # Dask may queue both tasks on one worker
]
CASE_IDS = [f"{s}{'/' + a[1] if a and a[0] == '--start-method' else ''}" for s, a, _ in CASES]
START_BOUND_S = 60  # the children are running the tasks within this (a LocalCluster: seconds)


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
@pytest.mark.parametrize(("strategy", "extra", "children"), CASES, ids=CASE_IDS)
def test_a_signal_leaves_no_process(tmp_path, strategy, extra, children, signum):
    if strategy.startswith("dask"):
        pytest.importorskip("distributed")
    pids, path, mark = tmp_path / "pids", tmp_path / "r.json", uuid.uuid4().hex
    pids.mkdir()
    argv = [
        sys.executable, "-m", "conlab", "compare", "tests.faults.faults:naps_in_a_child",
        "--range", "2", "--strategies", strategy, *extra, "--repeats", "3",
        "--quiet", "--json", str(path),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, ROOT]),
        "CONLAB_TEST_MARK": mark,
        "CONLAB_TEST_PIDS": str(pids),
    }
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_BOUND_S
        while len(os.listdir(pids)) < children:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the strategy's children never ran the tasks"
            time.sleep(0.05)
        proc.send_signal(signum)
        code = proc.wait(timeout=10)
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 2
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left 2 s after conlab ended: {[(p.pid, p.cmdline()[:4]) for p in left]}"
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        return
    assert code == EXIT_CODES[signum], err
    assert "Traceback" not in err and signum.name in err, err
    results = resultfile.load(str(path))
    assert results.complete is False
    run = next(r for r in results.comparisons[0].runs if r.strategy == strategy.split(":")[0])
    assert run.status == RUN_INCOMPLETE and "interrupted" in run.reason, run.reason
