"""The user's own code: a plain function, an async function and a factory, from the CLI and the API."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

import conlab
from conlab import resultfile
from tests.helpers import run_cli

MODULE = textwrap.dedent(
    """
    import asyncio

    import conlab


    def square(x, offset=0):
        print("square of", x)
        return x * x + offset


    async def fetch(x, pause_s: float = 0.01):
        await asyncio.sleep(pause_s)
        print("fetched", x)
        return x + 1


    def factory(n: int = 3):
        return conlab.Workload(
            name="mine",
            kind="io",
            tasks=[conlab.Task(square, (i,)) for i in range(n)],
            expected=[i * i for i in range(n)],
        )
    """
)
FAST = ["--repeats", "1", "--warmup", "0", "--quiet"]


@pytest.fixture
def project(tmp_path):
    """A directory holding the user's module, as the current directory of conlab."""
    (tmp_path / "labmod.py").write_text(MODULE)
    return tmp_path


def compared(project, args):
    out = project / "out.json"
    proc = run_cli(["compare", *args, *FAST, "--json", str(out)], cwd=str(project))
    assert proc.returncode == 0, proc.stderr
    (comparison,) = resultfile.load(str(out)).comparisons
    return proc, comparison


def statuses(comparison):
    return {run.strategy: (run.status, run.reason) for run in comparison.runs}


def test_cli_plain_function_with_json_inputs(project):
    items = [1, 2, {"args": [3], "kwargs": {"offset": 1}}]
    (project / "items.json").write_text(json.dumps(items))
    proc, comparison = compared(
        project,
        [
            "labmod:square",
            "--inputs",
            "items.json",
            "--strategies",
            "thread-pool:2,process-pool:2,asyncio",
        ],
    )
    got = statuses(comparison)
    assert got["thread-pool"] == ("ok", None) and got["process-pool"] == ("ok", None)
    assert got["asyncio"] == ("unavailable", "the labmod:square workload has no async variant")
    outputs = [t.output for t in comparison.run("process-pool").records]
    assert outputs == ["square of 1\n", "square of 2\n", "square of 3\n"]
    assert "square of 3" in proc.stdout


def test_cli_async_function_on_a_range(project):
    proc, comparison = compared(
        project,
        [
            "labmod:fetch",
            "--range",
            "4",
            "--param",
            "pause_s=0.02",
            "--strategies",
            "threads,process-pool:2,asyncio",
        ],
    )
    assert {s for s, _ in statuses(comparison).values()} == {"ok"}
    assert comparison.params == {"range": 4, "pause_s": 0.02}
    assert "fetched 3" in proc.stdout


def test_cli_factory_returning_a_workload(project):
    _, comparison = compared(
        project, ["labmod:factory", "--param", "n=4", "--strategies", "thread-pool:2"]
    )
    assert comparison.workload == "mine" and comparison.tasks == 4
    assert {s for s, _ in statuses(comparison).values()} == {"ok"}


@pytest.fixture
def labmod(project, monkeypatch):
    monkeypatch.syspath_prepend(str(project))
    import labmod

    yield labmod
    sys.modules.pop("labmod", None)


def test_api_plain_function(labmod):
    comparison = conlab.compare(
        labmod.square,
        [1, 2, {"args": [3], "kwargs": {"offset": 1}}],
        strategies=["thread-pool:2", "process-pool:2"],
        repeats=1,
        warmup=0,
    )
    for run in comparison.runs:
        assert run.status == "ok", run.reason
        assert [r.result for r in run.records] == [1, 4, 10]
        assert run.records[2].output == "square of 3\n"


def test_api_async_function_under_asyncio_and_threads(labmod):
    comparison = conlab.compare(
        labmod.fetch,
        range(3),
        strategies=["asyncio", "threads", "process-pool:2"],
        repeats=1,
        warmup=0,
    )
    for run in comparison.runs:
        assert run.status == "ok", run.reason
        assert [r.result for r in run.records] == [1, 2, 3]
        assert [r.output for r in run.records] == [f"fetched {i}\n" for i in range(3)]


def test_api_factory_and_catalogue_names(labmod):
    mine = conlab.compare("labmod:factory", ["thread-pool:2"], repeats=1, warmup=0, params={"n": 2})
    assert mine.workload == "mine" and mine.run("thread-pool").status == "ok"
    sleep = conlab.compare(
        "sleep", strategies=["asyncio"], repeats=1, warmup=0, params={"tasks": 2, "sleep_s": 0.01}
    )
    assert sleep.run("asyncio").status == "ok"
