"""`conlab demo` as a user runs it: a real subprocess."""

from __future__ import annotations

import json

import pytest

from conlab import resultfile
from tests.helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.json"
    proc = run_cli(["demo", "--quick", "--json", str(path)], timeout=180)
    return proc, path


def test_quick_demo_exits_0_and_shows_the_four_parts(quick_demo):
    proc, _ = quick_demo
    assert proc.returncode == 0, proc.stderr
    for heading in (
        "1. Waiting work",
        "2. Computing work",
        "3. What the lesson's notebook hit",
        "4. The lesson's table",
    ):
        assert heading in proc.stdout
    # Part 1's output once per task, grouped: never "square :cube : 729".
    assert (
        "calculate square numbers\nsquare : 4\nsquare : 9\nsquare : 64\nsquare : 81\n"
        in proc.stdout
    )
    flat = " ".join(proc.stdout.split())  # long lines are wrapped to the terminal
    assert "Can't get attribute 'calc_square' on <module '__main__' (built-in)>" in flat
    assert "Traceback" not in proc.stderr


def test_quick_demo_result_file_loads_and_matches_the_schema(quick_demo):
    proc, path = quick_demo
    assert proc.returncode == 0, proc.stderr
    raw = json.loads(path.read_text())
    assert raw["schema"] == "conlab.results/1" and raw["complete"] is True
    assert {
        "python",
        "implementation",
        "gil_enabled",
        "cpu_count",
        "cpu_model",
        "platform",
        "conlab",
    } <= set(raw["environment"])
    results = resultfile.load(str(path))
    # Part 4, the lesson's table, keeps the comparisons its cells were measured from.
    assert [c.workload for c in results.comparisons] == [
        "seed",
        "cpu",
        "seed",
        "cpu",
        "seed",
        "hashlib",
    ]
    waiting = results.comparisons[0]
    assert [(r.strategy, r.workers) for r in waiting.runs] == [
        ("sequential", 1),
        ("threads", 2),
        ("thread-pool", 2),
        ("thread-pool", 3),
        ("processes", 2),
        ("process-pool", 2),
    ]
    for run in waiting.runs:
        assert run.status == "ok", run.reason
        assert len(run.wall_s) == waiting.repeats
        assert run.floor_s == pytest.approx(0.2 if run.strategy == "sequential" else 0.1)
        assert [t.name for t in run.records] == ["calc_square", "calc_cube"]
        assert all(t.status == "ok" for t in run.records)
    first_run = raw["comparisons"][0]["runs"][0]
    assert set(first_run["wall_s"]) >= {"median", "min", "max", "samples"}
    assert set(first_run["tasks"][0]) >= {
        "name",
        "status",
        "start_s",
        "end_s",
        "cpu_s",
        "worker",
        "output",
        "error",
    }
    notebook = results.comparisons[2]
    assert {r.status for r in notebook.runs} == {"ok", "failed"}


def test_show_prints_the_saved_tables_again(quick_demo):
    _, path = quick_demo
    proc = run_cli(["show", str(path)])
    assert proc.returncode == 0, proc.stderr
    assert "1. Waiting work" in proc.stdout and "thread-pool" in proc.stdout


def test_raw_output_shows_writes_as_they_interleaved(tmp_path):
    proc = run_cli(
        ["demo", "--quick", "--raw-output", "--repeats", "1", "--warmup", "0"], timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert "as it was written, interleaved" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repeats", "0"], "--repeats: must be at least 1, not 0"),
        (["--repeats", "-1"], "--repeats: must be at least 1, not -1"),
        (["--repeats", "abc"], "--repeats: expected a whole number, not 'abc'"),
        (["--warmup", "-1"], "--warmup: must be at least 0, not -1"),
        (["--start-method", "nope"], "invalid choice: 'nope'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_demo_input_gets_one_line_and_exit_2(args, message):
    assert_one_line_error(run_cli(["demo", *args]), 2, message)


def test_unwritable_json_path_is_refused_before_measuring(tmp_path):
    line = assert_one_line_error(
        run_cli(["demo", "--quick", "--json", str(tmp_path / "no" / "x.json")])
    )
    assert "does not exist" in line
