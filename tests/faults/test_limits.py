"""Numbers, inputs and streams past what makes sense: one line and exit 2, or a quiet end.

Each case runs as a user types it, in a subprocess: the exit code, one line on
stderr, no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import SRC, assert_one_line_error, run_cli

REFUSED_PARAMS = [
    ("cpu", "tasks=0", "at least 1"),
    ("cpu", "tasks=-1", "at least 1"),
    ("cpu", "tasks=1000000000000", "at most 100000"),
    ("cpu", "tasks=1e12", "whole number"),
    ("cpu", "size=-1", "at least 0"),
    ("cpu", "size=nan", "finite"),
    ("sleep", "sleep_s=nan", "finite"),
    ("sleep", "sleep_s=inf", "finite"),
    ("sleep", "sleep_s=1e99", "at most 3600"),
    ("seed", "sleep_s=-1", "at least 0"),
]


@pytest.mark.parametrize(("workload", "param", "says"), REFUSED_PARAMS)
def test_nonsense_parameters_are_refused(workload, param, says):
    proc = run_cli(["compare", workload, "--param", param, "--strategies", "sequential"])
    assert_one_line_error(proc, 2, says)


@pytest.fixture
def module_dir(tmp_path):
    (tmp_path / "hostile_mod.py").write_text(
        textwrap.dedent(
            """
            import math
            nothing = None
            def nan(x):
                return {"values": [math.nan, -math.inf, x]}
            def ident(x):
                return x
            """
        )
    )
    (tmp_path / "exits_at_import.py").write_text("import sys\nsys.exit(7)\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--range", "1" + "0" * 35], "must be at most"),
        (["--range", "100001"], "--range must be from 1 to 100000"),
        (["--inputs", "/dev/zero"], "larger than 64 MiB"),
        (["--inputs", "deep.json"], "nested too deeply"),
        (["--inputs", "many.json"], "at most 100000 tasks"),
    ],
)
def test_inputs_are_bounded(module_dir, args, says):
    (module_dir / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (module_dir / "many.json").write_text(json.dumps(list(range(100_001))))
    proc = run_cli(["compare", "hostile_mod:ident", *args], cwd=module_dir)
    assert_one_line_error(proc, 2, says)


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("../../etc/passwd:f", "is not a module name"),
        ("exits_at_import:f", "SystemExit: 7"),
        ("hostile_mod:nothing", "is a NoneType, not a function"),
        ("hostile_mod:no_such", "has no attribute"),
    ],
)
@pytest.mark.parametrize("command", ["compare", "map"])
def test_bad_targets_are_one_line(module_dir, command, target, says):
    args = [command, target] + (["--range", "2"] if command == "compare" else [])
    proc = run_cli(args, cwd=module_dir, input="1\n")
    assert_one_line_error(proc, 2, says)


def _map(module_dir, function, stdin: str, pipe_to_head: bool = False):
    command = [sys.executable, "-m", "conlab", "map", function]
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}
    if not pipe_to_head:
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, cwd=module_dir, env=env
        )
    (module_dir / "items.jsonl").write_text(stdin)
    with open(module_dir / "items.jsonl") as items:
        conlab = subprocess.Popen(
            command,
            stdin=items,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=module_dir,
            env=env,
            text=True,
        )
        head = subprocess.run(["head", "-1"], stdin=conlab.stdout, capture_output=True, text=True)
        conlab.stdout.close()
        _, err = conlab.communicate(timeout=120)
    return conlab.returncode, head.stdout, err


def test_map_ends_quietly_when_the_reader_goes(module_dir):
    code, first, err = _map(module_dir, "hostile_mod:ident", "1\n" * 200_000, pipe_to_head=True)
    assert (code, first, err) == (0, "1\n", "")


def test_map_writes_only_json(module_dir):
    proc = _map(module_dir, "hostile_mod:nan", "1\n2\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [{"values": [None, None, k]} for k in (1, 2)]
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout


def test_map_names_a_deep_line(module_dir):
    proc = _map(module_dir, "hostile_mod:ident", "1\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "line 2 of the input is not JSON" in lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["compare", "sleep", "--strategies", "sequential:2"], "takes no worker count"),
        (["compare", "sleep", "--strategies", "threads:4"], "takes no worker count"),
        (["sweep", "sleep", "--strategy", "sequential"], "no worker count to sweep"),
        (["sweep", "sleep", "--strategy", "thread-pool", "--tasks", "100000000"], "at most"),
        (["sweep", "sleep", "--strategy", "thread-pool", "--tasks", "1000000"], "at most 100000"),
    ],
)
def test_counts_that_mean_nothing_are_refused(args, says):
    assert_one_line_error(run_cli([*args, "--repeats", "1"]), 2, says)


def test_a_pool_starts_no_more_workers_than_tasks():
    from conlab.api import compare
    from conlab.workloads import build

    workload = build("sleep", tasks=2, sleep_s=0.01)
    comparison = compare(workload, ["thread-pool:10000", "process-pool:10000"], repeats=1, warmup=0)
    for run in comparison.runs:
        assert run.status == "ok", run.reason
        assert len({(r.worker.pid, r.worker.thread) for r in run.records}) <= 2
    for label in ("thread-pool:10000", "process-pool:10000"):
        assert any(label in note and "2 of the 10000 workers" in note for note in comparison.notes)
