"""The exporters and the one path of the measuring commands: checked first, written each round."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conlab import resultfile
from conlab.cli import measuring
from conlab.cli.exports import Exports
from conlab.cli.measuring import Measurement, Part
from conlab.cli.parser import build_parser
from conlab.errors import Interrupted, UsageError
from conlab.lab.compare import compare
from conlab.measure import environment
from conlab.model import Comparison, Results
from conlab.report.exporters import EXPORTERS
from conlab.strategies import make
from conlab.workloads import build
from tests.helpers import assert_one_line_error, run_cli

FORMATS = {"json": "r.json", "markdown": "r.md", "csv": "r.csv", "html": "r.html"}
FORMATS |= {"plot": "r.svg", "trace": "r.trace"}


def _comparison(title: str) -> Comparison:
    return compare(build("sleep", tasks=2, sleep_s=0.001), [make("threads")], 1, 0, title=title)


@pytest.fixture(scope="module")
def comparisons() -> list[Comparison]:
    return [_comparison("first"), _comparison("second")]


def _args(tmp_path: Path, *extra: str) -> object:
    outputs = [a for k, name in FORMATS.items() for a in (f"--{k}", str(tmp_path / name))]
    return build_parser().parse_args(["compare", "sleep", *outputs, *extra])


def test_every_format_has_one_exporter_and_only_results_are_written_each_round(
    tmp_path, comparisons
):
    assert sorted(e.option for e in EXPORTERS) == sorted(FORMATS)
    results = Results(environment.collect(), comparisons, complete=False)
    for exporter in EXPORTERS:
        path = str(tmp_path / FORMATS[exporter.option])
        exporter.check(path)
        wrote = exporter.write(results, path, intermediate=True)
        assert wrote == os.path.exists(path) == (exporter.option in ("json", "markdown", "csv"))
        assert exporter.write(results, path, intermediate=False) and os.path.getsize(path) > 0
        assert path in exporter.notice(path)


def _plan_of(parts: list) -> measuring.Plan:
    return lambda args: Measurement(lambda progress, on_round: parts)


def test_results_are_written_after_each_part_and_pictures_at_the_end(tmp_path, comparisons):
    first, second = comparisons
    seen: dict[str, object] = {}

    def part_two() -> Part:
        with open(tmp_path / "r.json") as f:
            seen["json"] = json.load(f)
        seen["html"] = (tmp_path / "r.html").exists()
        return Part([second])

    args = _args(tmp_path, "--quiet")
    assert measuring.run(args, _plan_of([lambda: Part([first]), part_two])) == 0
    assert seen["json"]["complete"] is False  # type: ignore[index]
    assert [c["title"] for c in seen["json"]["comparisons"]] == ["first"]  # type: ignore[index]
    assert seen["html"] is False, "the HTML report is drawn once, at the end"
    results = resultfile.load(str(tmp_path / "r.json"))
    assert results.complete and [c.title for c in results.comparisons] == ["first", "second"]
    assert "second" in (tmp_path / "r.md").read_text()
    assert (tmp_path / "r.html").exists() and (tmp_path / "r.trace").exists()


def test_ctrl_c_keeps_the_part_in_progress_as_far_as_it_got(tmp_path, comparisons):
    first, second = comparisons

    def interrupted() -> Part:
        raise Interrupted(second)

    args = _args(tmp_path, "--quiet")
    with pytest.raises(KeyboardInterrupt) as caught:
        measuring.run(args, _plan_of([lambda: Part([first]), interrupted]))
    assert caught.value.saved_to == str(tmp_path / "r.json")  # type: ignore[attr-defined]
    results = resultfile.load(str(tmp_path / "r.json"))
    assert not results.complete and [c.title for c in results.comparisons] == ["first", "second"]
    assert not (tmp_path / "r.html").exists(), "no picture of an interrupted run"


def test_every_output_is_checked_before_anything_is_measured(tmp_path):
    measured = []
    args = _args(tmp_path)
    args.csv = args.json  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="same file"):
        measuring.run(args, _plan_of([lambda: measured.append(1) or Part([])]))
    assert not measured and not os.listdir(tmp_path)
    exports = Exports.from_args(_args(tmp_path), {"--inputs": str(tmp_path / "r.md")})
    (tmp_path / "r.md").write_text("[1]")
    with pytest.raises(UsageError, match="same file as --inputs"):
        exports.check()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "sleep", "--json", "r.json", "--csv", "r.json"], "same file as --json"),
        (["show", "r.json", "--markdown", "r.json"], "same file as the input"),
        (["report", "r.json", "--plot", "r.pdf"], ".png or .svg"),
        (["sweep", "cpu", "--strategy", "thread-pool", "--trace", "."], "a directory"),
    ],
)
def test_bad_outputs_are_one_line_before_measuring(tmp_path, args, message):
    (tmp_path / "r.json").write_text('{"schema": "conlab.results/1", "environment": {}}')
    before = (tmp_path / "r.json").read_text()
    assert_one_line_error(run_cli(args, cwd=str(tmp_path), timeout=60), 2, message)
    assert (tmp_path / "r.json").read_text() == before
