"""The result file: written, validated against the shipped JSON Schema, read back, shown, diffed."""

from __future__ import annotations

import copy
import csv
import json
import os
from pathlib import Path

import jsonschema
import pytest

from conlab import resultfile
from conlab.lab.compare import compare
from conlab.measure import environment
from conlab.measure.diff import diff
from conlab.model import Results
from conlab.strategies import make
from conlab.workloads import build
from tests.helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def results() -> Results:
    comparison = compare(
        build("seed", sleep_s=0.005, numbers=[2, 3]),
        [make("thread-pool", 2), make("processes")],
        repeats=3,
        warmup=0,
        seed=1,
    )
    return Results(environment.collect(), [comparison])


@pytest.fixture
def written(results: Results, tmp_path: Path) -> str:
    path = str(tmp_path / "r.json")
    resultfile.write(results, path)
    return path


def test_written_file_matches_the_shipped_schema(written: str) -> None:
    with open(written) as f:
        data = json.load(f)
    jsonschema.Draft202012Validator.check_schema(resultfile.json_schema())
    jsonschema.validate(data, resultfile.json_schema())
    run = data["comparisons"][0]["runs"][1]
    assert len(run["wall_s"]["samples"]) == 3
    assert {"median", "min", "max", "q1", "q3", "iqr", "cv", "outliers"} <= set(run["wall_s"])
    assert run["speedup_ci"][0] <= run["speedup"] <= run["speedup_ci"][1]
    env = data["environment"]
    for key in ("cpu_model", "physical_cores", "affinity", "memory_bytes", "kernel", "libraries"):
        assert key in env


def test_schema_rejects_what_the_loader_rejects(written: str) -> None:
    with open(written) as f:
        data = json.load(f)
    bad = copy.deepcopy(data)
    bad["comparisons"][0]["runs"][0]["workers"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, resultfile.json_schema())


def test_round_trip_keeps_the_figures(results: Results, written: str) -> None:
    loaded = resultfile.load(written)
    before, after = results.comparisons[0], loaded.comparisons[0]
    assert loaded.environment == json.loads(json.dumps(results.environment))
    for a, b in zip(before.runs, after.runs, strict=True):
        assert (a.strategy, a.workers, a.status) == (b.strategy, b.workers, b.status)
        assert a.wall_s == b.wall_s
        assert a.cpu_s == b.cpu_s
        assert a.peak_uss_bytes == b.peak_uss_bytes
        assert a.other_cores == b.other_cores
        assert a.speedup_ci == b.speedup_ci
        assert [r.output for r in a.records] == [r.output for r in b.records]
    # Written again from what was read, the file is the same.
    again = written + ".again"
    resultfile.write(loaded, again)
    assert resultfile.to_dict(resultfile.load(again)) == resultfile.to_dict(loaded)


def test_diff_of_a_file_with_itself_finds_nothing(written: str) -> None:
    loaded = resultfile.load(written)
    d = diff(loaded, loaded)
    assert d.rows and not d.significant
    assert all(r.ratio == 1.0 for r in d.rows if r.ratio is not None)
    assert d.environment == []


def test_diff_marks_a_real_slowdown_and_not_a_small_one(results: Results) -> None:
    quiet = copy.deepcopy(results)
    for run in quiet.comparisons[0].runs:
        run.wall_s = [0.1, 0.1001, 0.0999, 0.10005, 0.09995]
    results = quiet
    slow, slight = copy.deepcopy(results), copy.deepcopy(results)
    for run in slow.comparisons[0].runs:
        run.wall_s = [x * 2 for x in run.wall_s]
    for run in slight.comparisons[0].runs:
        run.wall_s = [x * 1.02 for x in run.wall_s]
    slow.environment = {**slow.environment, "python": "3.99.0"}
    d = diff(results, slow)
    assert len(d.significant) == len(d.rows)
    assert all(r.verdict == "slower in B" for r in d.rows)
    assert ("python", results.environment["python"], "3.99.0") in d.environment
    # Every sample 2 % slower: a test may say "different", but it is under the 5 % minimum.
    assert diff(results, slight).significant == []
    assert len(diff(results, slight, min_effect=0.01).significant) == len(d.rows)


def test_show_and_diff_from_the_command_line(written: str, tmp_path: Path) -> None:
    md, table = str(tmp_path / "r.md"), str(tmp_path / "r.csv")
    proc = run_cli(["show", written, "--markdown", md, "--csv", table])
    assert proc.returncode == 0, proc.stderr
    assert "thread-pool" in proc.stdout and "processes" in proc.stdout
    text = Path(md).read_text()
    assert "| strategy |" in text and "thread-pool" in text
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["strategy"] for r in rows][:1] == ["sequential"]
    assert len(rows[1]["samples_s"].split()) == 3
    proc = run_cli(["diff", written, written])
    assert proc.returncode == 0, proc.stderr
    assert "0 significant differences" in proc.stdout
    assert "Same environment" in proc.stdout


def _bad_files(tmp: Path, good: str) -> dict[str, str]:
    with open(good) as f:
        text = f.read()
    data = json.loads(text)
    files = {
        "truncated": text[: len(text) // 2],
        "other schema": json.dumps({**data, "schema": "pyperf/1"}),
        "no schema": json.dumps([1, 2, 3]),
        "wrong type": json.dumps(
            {**data, "comparisons": [{**data["comparisons"][0], "runs": "none"}]}
        ),
    }
    bad = copy.deepcopy(data)
    bad["comparisons"][0]["runs"][0]["wall_s"]["samples"] = ["fast"]
    files["wrong sample"] = json.dumps(bad)
    paths = {}
    for name, content in files.items():
        path = tmp / (name.replace(" ", "-") + ".json")
        path.write_text(content)
        paths[name] = str(path)
    paths["missing"] = str(tmp / "nope.json")
    os.mkdir(tmp / "dir")
    paths["directory"] = str(tmp / "dir")
    return paths


@pytest.mark.parametrize("command", ["show", "diff"])
def test_bad_files_give_one_line_and_exit_2(command: str, written: str, tmp_path: Path) -> None:
    expected = {
        "truncated": "not valid JSON",
        "other schema": "pyperf/1",
        "no schema": "not a conlab result file",
        "wrong type": "runs",
        "wrong sample": "samples[0]",
        "missing": "no such file",
        "directory": "is a directory",
    }
    for name, path in _bad_files(tmp_path, written).items():
        args = ["show", path] if command == "show" else ["diff", written, path]
        line = assert_one_line_error(run_cli(args), 2, expected[name])
        assert path in line, (name, line)
