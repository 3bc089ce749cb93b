"""What a user sees of a crash, a hang and an interruption, through the command line.

A crash names the user's line; a strategy whose run failed is not repeated, so
``--timeout`` bounds the command; a file cut short says ``incomplete`` in show
and diff, never ``ok``, and diff draws no conclusion from it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.helpers import SRC, run_cli

MODULE = """
import ctypes, os, sys, time

def segfaults(x):
    if x == 2:
        ctypes.string_at(0)
    return x

def exits(x):
    if x == 2:
        os._exit(3)
    return x

def calls_sys_exit(x):
    if x == 2:
        sys.exit(4)
    return x

def hangs(x):
    if x == 2:
        time.sleep(3600)
    return x

def naps(x):
    time.sleep(0.05)
    return x
"""


@pytest.fixture
def module_dir(tmp_path):
    (tmp_path / "usermod.py").write_text(textwrap.dedent(MODULE))
    return tmp_path


@pytest.mark.parametrize(
    ("function", "says"),
    [
        ("segfaults", "signal SIGSEGV: a segmentation fault in C code called from usermod.py:6 in segfaults"),
        ("exits", "exit code 3: os._exit(3) called from usermod.py:11 in exits"),
        ("calls_sys_exit", "SystemExit: 4 (sys.exit(4) called from usermod.py:16 in calls_sys_exit)"),
    ],
)  # fmt: skip
def test_a_crash_names_the_users_line_without_isolate(module_dir, function, says):
    argv = ["compare", f"usermod:{function}", "--range", "4", "--repeats", "1"]
    argv += ["--strategies", "threads,process-pool:2", "--json", "r.json"]
    proc = run_cli(argv, cwd=str(module_dir))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr  # no valid run
    printed = " ".join(proc.stdout.split())
    assert printed.count(says) >= 3, proc.stdout  # sequential, threads, process-pool
    runs = json.loads((module_dir / "r.json").read_text())["comparisons"][0]["runs"]
    assert all(says in r["reason"] for r in runs), [r["reason"] for r in runs]


def test_a_failed_strategy_is_not_repeated_so_timeout_bounds_the_command(module_dir):
    argv = ["compare", "usermod:hangs", "--range", "4", "--timeout", "1", "--json", "r.json"]
    t = time.monotonic()
    proc = run_cli(argv, cwd=str(module_dir))
    took_s = time.monotonic() - t
    assert proc.returncode == 1, proc.stderr  # no valid run
    runs = json.loads((module_dir / "r.json").read_text())["comparisons"][0]["runs"]
    tried = [r for r in runs if r["status"] != "unavailable"]
    assert len(tried) >= 5  # sequential, threads, thread-pool, processes, process-pool
    for run in tried:
        assert run["status"] == "failed", run
        assert run["reason"].startswith("not repeated after its warm-up failed"), run["reason"]
        assert not (run["wall_s"] or {}).get("samples"), "the timed repeats were not run"
    # Each strategy waits the limit about once (ceil(4 / workers) at worst), not six times.
    assert took_s < len(tried) * (4 * 1 + 3) + 20, f"took {took_s:.0f} s"


def _interrupted(module_dir, name: str) -> None:
    """A compare stopped by SIGTERM once it has written its first round, as a CI runner does."""
    argv = ["compare", "usermod:naps", "--range", "2", "--strategies", "thread-pool:2"]
    argv += ["--repeats", "50", "--quiet", "--json", name]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-m", "conlab", *argv], cwd=module_dir, env=env)
    deadline = time.monotonic() + 60
    while not (module_dir / name).exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143


def test_show_and_diff_of_an_interrupted_file_say_incomplete(module_dir):
    argv = ["compare", "usermod:naps", "--range", "2", "--strategies", "thread-pool:2"]
    proc = run_cli([*argv, "--repeats", "3", "--json", "a.json"], cwd=str(module_dir))
    assert proc.returncode == 0, proc.stderr
    _interrupted(module_dir, "b.json")
    shown = run_cli(["show", "b.json"], cwd=str(module_dir))
    assert shown.returncode == 0, shown.stderr
    assert "incomplete" in shown.stdout and " ok " not in shown.stdout, shown.stdout
    diffed = run_cli(["diff", "a.json", "b.json"], cwd=str(module_dir))
    assert diffed.returncode == 0, diffed.stderr
    assert "incomplete in B" in diffed.stdout and "0 significant differences" in diffed.stdout


def test_diff_calls_nothing_significant_when_a_side_is_incomplete():
    from conlab.measure.diff import compare_runs
    from conlab.model import RUN_INCOMPLETE, Run

    fast = Run("thread-pool", 2, wall_s=[1.0, 1.01, 0.99, 1.0, 1.02])
    slow = Run("thread-pool", 2, wall_s=[2.0, 2.01, 1.99])
    assert compare_runs(
        "w", fast, Run("thread-pool", 2, wall_s=slow.wall_s * 2), 0.05, 0.05
    ).significant
    slow.status, slow.reason = RUN_INCOMPLETE, "interrupted after 4 of 6 runs"
    row = compare_runs("w", fast, slow, 0.05, 0.05)
    assert not row.significant and row.ratio is not None and row.ratio > 1.9
    assert row.verdict == "incomplete in B (interrupted): not called significant"
    # A file from before the mark: ok, but fewer samples than its comparison asked for.
    slow.status = "ok"
    row = compare_runs("w", fast, slow, 0.05, 0.05, repeats=(5, 5))
    assert not row.significant and "incomplete in B" in row.verdict
