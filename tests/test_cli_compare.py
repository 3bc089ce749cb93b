"""``conlab compare``, ``workloads`` and ``strategies`` from the command line, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conlab import resultfile
from tests.helpers import SRC, assert_one_line_error, run_cli


@pytest.fixture
def project(tmp_path):
    (tmp_path / "okmod.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "badmod.py").write_text("import os\nraise ValueError('broken on purpose')\n")
    (tmp_path / "notjson.json").write_text("[1, 2,")
    (tmp_path / "object.json").write_text(json.dumps({"a": 1}))
    return tmp_path


BAD = [
    (["sleeep"], "unknown workload 'sleeep': did you mean 'sleep'"),
    (
        ["sleep", "--strategies", "thread-pol"],
        "unknown strategy 'thread-pol': did you mean 'thread-pool'",
    ),
    (["nosuchmodule:func", "--range", "2"], "no module named 'nosuchmodule'"),
    (["okmod:nosuchfunc", "--range", "2"], "'okmod' has no attribute 'nosuchfunc'"),
    (
        ["badmod:f", "--range", "2"],
        "importing 'badmod' failed: ValueError: broken on purpose (badmod.py:2)",
    ),
    (["okmod:double", "--inputs", "notjson.json"], "--inputs notjson.json is not JSON"),
    (["okmod:double", "--inputs", "object.json"], "holds a JSON dict, not a list"),
    (["okmod:double", "--inputs", "missing.json"], "cannot read --inputs missing.json"),
    (
        ["sleep", "--param", "naps=3"],
        "unknown parameter 'naps' for the sleep workload: valid keys are tasks, sleep_s",
    ),
    (
        ["sleep", "--param", "tasks=many"],
        "'tasks' of the sleep workload must be a whole number, not 'many'",
    ),
    (["sleep", "--param", "tasks"], "--param takes key=value"),
    (["sleep", "--workers", "0"], "argument --workers: must be at least 1, not 0"),
    (["sleep", "--workers", "-1"], "argument --workers: must be at least 1, not -1"),
    (["sleep", "--strategies", "thread-pool:0"], "workers must be at least 1, not 0"),
    (["okmod:double"], "okmod:double needs arguments: give --inputs FILE or --range N"),
    (["sleep", "--range", "3"], "--inputs and --range are for module:function"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(project, args, message):
    proc = run_cli(["compare", *args], cwd=str(project), timeout=60)
    assert_one_line_error(proc, 2, message)


def test_compare_a_catalogue_workload_writes_a_result_file(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli(
        [
            "compare",
            "sleep",
            "--param",
            "tasks=3",
            "--param",
            "sleep_s=0.02",
            "--strategies",
            "thread-pool,asyncio",
            "--workers",
            "3",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    (comparison,) = resultfile.load(str(out)).comparisons
    assert comparison.params == {"tasks": 3, "sleep_s": 0.02}
    assert [(r.label, r.status) for r in comparison.runs] == [
        ("sequential:1", "ok"),
        ("thread-pool:3", "ok"),
        ("asyncio:3", "ok"),
    ]
    assert all(len(r.wall_s) == 2 for r in comparison.runs)
    assert "thread-pool" in proc.stdout and "asyncio" in proc.stdout


def test_workloads_lists_every_workload_and_why_one_is_unavailable():
    proc = run_cli(["workloads"])
    assert proc.returncode == 0, proc.stderr
    for name in (
        "seed",
        "sleep",
        "files",
        "http",
        "cpu",
        "text",
        "hash",
        "numpy",
        "image",
        "mixed",
    ):
        assert any(line.startswith(name + " ") for line in proc.stdout.splitlines()), name
    # An interpreter where numpy cannot be imported: the workload says what to install.
    code = "import sys; sys.modules['numpy'] = None; from conlab.cli import main; sys.exit(main(['workloads']))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "NOT AVAILABLE here: needs numpy: pip install 'conlab[numpy]'" in proc.stdout


def test_strategies_lists_every_strategy():
    proc = run_cli(["strategies"])
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    names = [cells[0] for cells in rows if len(cells) > 1 and cells[1] in ("yes", "no")]
    from conlab.strategies import REGISTRY

    assert names == list(REGISTRY)


def test_a_missing_extra_is_one_line_when_compared():
    code = "import sys; sys.modules['PIL'] = None; from conlab.cli import main; sys.exit(main(['compare', 'image']))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )
    assert_one_line_error(
        proc,
        2,
        "the image workload is not available here: it needs Pillow: pip install 'conlab[image]'",
    )


def test_by_default_compare_takes_every_local_strategy_and_clusters_only_when_asked():
    from conlab.api import strategy_list
    from conlab.strategies import REGISTRY

    local = [name for name in REGISTRY if name not in ("dask", "ray")]
    assert [s.name for s in strategy_list(None)] == local
    with_dask = strategy_list(None, scheduler="tcp://127.0.0.1:8786")
    assert [s.name for s in with_dask] == [*local, "dask"]
    with_ray = strategy_list(None, ray_address="127.0.0.1:6379")
    assert [s.name for s in with_ray] == [*local, "ray"]
    assert [s.name for s in strategy_list(["dask", "ray"])] == ["dask", "ray"]


def test_the_command_line_and_the_api_resolve_a_workload_alike(project, monkeypatch):
    from conlab.cli.commands import workload_of
    from conlab.cli.parser import build_parser
    from conlab.workloads import resolve

    def cli(*argv: str):
        return workload_of(build_parser().parse_args(["compare", *argv]))

    by_cli = cli("sleep", "--param", "tasks=3", "--param", "sleep_s=0.01")
    by_api = resolve("sleep", {"tasks": 3, "sleep_s": "0.01"})
    assert (by_cli.name, len(by_cli.tasks), by_cli.params) == (
        by_api.name,
        len(by_api.tasks),
        by_api.params,
    )
    assert resolve(by_api) is by_api
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    assert [t.args for t in cli("okmod:double", "--range", "3").tasks] == [
        t.args for t in resolve("okmod:double", range_n=3).tasks
    ]
    sys.modules.pop("okmod", None)
