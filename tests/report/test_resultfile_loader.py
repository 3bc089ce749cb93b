"""The result file: a faithful round trip, and one clear line for anything else."""

from __future__ import annotations

import json

import pytest

from conlab import resultfile
from conlab.errors import ResultFileError
from conlab.lab.compare import compare
from conlab.measure import environment
from conlab.model import Results
from conlab.strategies import make
from conlab.workloads import build


@pytest.fixture(scope="module")
def results():
    comparison = compare(
        build("seed", sleep_s=0.005), [make("thread-pool", 2)], repeats=2, warmup=0
    )
    return Results(environment.collect(), [comparison])


def test_round_trip_keeps_every_figure_and_record(results, tmp_path):
    path = str(tmp_path / "r.json")
    resultfile.write(results, path)
    back = resultfile.load(path)
    assert resultfile.to_dict(back)["comparisons"] == resultfile.to_dict(results)["comparisons"]
    run = back.comparisons[0].run("thread-pool")
    original = results.comparisons[0].run("thread-pool")
    assert run.wall_s == original.wall_s
    assert [t.output for t in run.records] == [t.output for t in original.records]
    # The times of each write survive, so interleaved output can be replayed.
    assert [len(t.output_chunks) for t in run.records] == [
        len(t.output_chunks) for t in original.records
    ]


def _write(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "bad.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def _mutated(results, change) -> str:
    data = json.loads(json.dumps(resultfile.to_dict(results)))
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("make_text", "message"),
    [
        (lambda r: '{"schema": "conlab.results/1", "environment": {', "not valid JSON"),
        (
            lambda r: '{"schema": "other/2", "environment": {}, "comparisons": []}',
            "schema 'other/2'",
        ),
        (lambda r: "[1, 2, 3]", 'no "schema" field'),
        (lambda r: b"\xff\xfe\x00garbage", "not UTF-8"),
        (
            lambda r: _mutated(r, lambda d: d["comparisons"][0]["runs"][0].update(workers="two")),
            "runs[0].workers: expected an integer",
        ),
        (
            lambda r: _mutated(r, lambda d: d["comparisons"][0]["runs"][0].update(status="great")),
            "'great' is not one of",
        ),
        (
            lambda r: _mutated(
                r, lambda d: d["comparisons"][0]["runs"][0]["wall_s"].update(samples=["x"])
            ),
            "wall_s.samples[0]: expected a finite number",
        ),
        (lambda r: _mutated(r, lambda d: d.pop("comparisons")), "missing 'comparisons'"),
        (lambda r: "[" * 100000 + "]" * 100000, "not a conlab result file"),
    ],
)
def test_bad_files_give_one_line_naming_the_problem(results, tmp_path, make_text, message):
    path = _write(tmp_path, make_text(results))
    with pytest.raises(ResultFileError) as info:
        resultfile.load(path)
    text = str(info.value)
    assert "\n" not in text and message in text and path in text


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ResultFileError, match="no such file"):
        resultfile.load(str(tmp_path / "nope.json"))
    with pytest.raises(ResultFileError, match="is a directory"):
        resultfile.load(str(tmp_path))


def test_write_is_atomic_and_leaves_no_temporary_file(results, tmp_path):
    path = tmp_path / "r.json"
    resultfile.write(results, str(path))
    resultfile.write(results, str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
