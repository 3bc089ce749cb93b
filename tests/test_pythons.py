"""--python: the same measurement under other interpreters on this machine, in one result file."""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

from conlab import resultfile
from conlab.cli.pythons import inspect_python, strip_python_options
from conlab.errors import ResultFileError
from tests.helpers import assert_one_line_error, run_cli, run_python


def _pyenv(version: str) -> str | None:
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}*/bin/python"))
    return found[-1] if found else None


PY310, PY312, PY313, PY39 = (_pyenv(v) for v in ("3.10.", "3.12.", "3.13.", "3.9."))


def _need(*paths: str | None) -> None:
    if not all(paths):
        pytest.skip("needs the pyenv interpreters 3.10, 3.12 and 3.13 under /root/.pyenv/versions")


@pytest.mark.slow
def test_three_interpreters_give_one_file_with_three_environments(tmp_path):
    _need(PY310, PY312, PY313)
    out = tmp_path / "three.json"
    quick = ["demo", "--quick", "--repeats", "1", "--warmup", "0", "--json", str(out)]
    proc = run_cli([*quick, "--python", PY310, "--python", PY312, "--python", PY313], timeout=300)  # type: ignore[list-item]
    assert proc.returncode == 0, proc.stderr
    results = resultfile.load(str(out))
    assert [e["python"][:4] for e in results.environments] == ["3.10", "3.12", "3.13"]
    for env in results.environments:
        assert env["gil_enabled"] is True and env["free_threaded_build"] is False
        # The child interpreters have nothing installed: conlab ran on the standard library.
        assert env["pickler"] == "pickle"
    assert sorted({c.environment for c in results.comparisons}) == [0, 1, 2]
    assert len(results.comparisons) == 18  # 6 per interpreter
    for c in results.comparisons:
        if c.title.startswith("1."):
            assert all(r.status == "ok" for r in c.runs), [(r.label, r.reason) for r in c.runs]
    # Subinterpreters run on 3.13 and are said to be unavailable, with why, on the others.
    for c in results.comparisons:
        if c.title.startswith("2."):
            run = c.run("interpreters")
            if results.environment_of(c)["python"].startswith("3.13"):
                assert run.status == "ok", run.reason
                assert run.options == {"backend": "_interpreters"}
                assert run.speedup is not None
            else:
                assert run.status == "unavailable" and "3.13" in (run.reason or "")
    assert "Side by side" in proc.stdout
    assert "CPython 3.10.13 (GIL)" in proc.stdout


def test_the_children_have_neither_rich_nor_cloudpickle_nor_psutil():
    """What the test above relies on: the pyenv interpreters are bare."""
    _need(PY312)
    code = "import importlib.util as u; print([m for m in ('rich','cloudpickle','psutil') if u.find_spec(m)])"
    out = subprocess.run([PY312, "-s", "-c", code], capture_output=True, text=True, check=True)  # type: ignore[list-item]
    assert out.stdout.strip() == "[]"


def test_a_python_older_than_3_10_is_one_line():
    if PY39 is None:
        pytest.skip("needs a pyenv Python 3.9 under /root/.pyenv/versions")
    proc = run_cli(["demo", "--quick", "--python", PY39])
    line = assert_one_line_error(proc, 2, "conlab needs Python 3.10 or later")
    assert "3.9." in line


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/no/such/python", "no such file"),
        ("/tmp", "is a directory"),
        ("/bin/ls", "not a Python interpreter"),
    ],
)
def test_a_path_that_is_not_a_python_is_one_line(path, says):
    assert_one_line_error(run_cli(["demo", "--quick", "--python", path]), 2, says)


def test_a_script_that_is_not_python_is_one_line(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    assert_one_line_error(run_cli(["demo", "--python", str(fake)]), 2, "not a Python interpreter")


def test_inspect_names_version_and_build():
    _need(PY313)
    interp = inspect_python(PY313)  # type: ignore[arg-type]
    assert interp.version[:2] == (3, 13) and not interp.free_threaded
    assert interp.label.startswith("CPython 3.13.")


def test_python_options_are_taken_out_of_what_children_run():
    argv = ["demo", "--python", "a", "--quick", "--python=b", "--json", "x.json"]
    assert strip_python_options(argv) == ["demo", "--quick", "--json", "x.json"]


def test_a_comparison_naming_a_missing_environment_is_refused(tmp_path):
    data = {
        "schema": "conlab.results/1",
        "environment": {},
        "environments": [{"python": "3.12.1"}],
        "comparisons": [
            {
                "workload": {"name": "seed", "kind": "io", "tasks": 0},
                "settings": {"repeats": 1, "warmup": 0},
                "runs": [],
                "environment": 1,
            }
        ],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=r"comparisons\[0\]\.environment: 1 names no entry"):
        resultfile.load(str(path))
    data["comparisons"][0]["environment"] = 0  # type: ignore[index]
    path.write_text(json.dumps(data))
    loaded = resultfile.load(str(path))
    assert loaded.environment_of(loaded.comparisons[0]) == {"python": "3.12.1"}
    resultfile.write(loaded, str(path))
    assert json.loads(path.read_text())["comparisons"][0]["environment"] == 0


def test_show_reads_a_file_with_several_environments(tmp_path):
    path = tmp_path / "two.json"
    data = {
        "schema": "conlab.results/1",
        "environment": {"python": "3.11.7"},
        "environments": [
            {"python": "3.12.1", "implementation": "CPython"},
            {
                "python": "3.13.0",
                "implementation": "CPython",
                "free_threaded_build": True,
                "gil_enabled": False,
            },
        ],
        "comparisons": [
            {
                "workload": {"name": "seed", "kind": "io", "tasks": 0},
                "settings": {"repeats": 1, "warmup": 0},
                "runs": [
                    {
                        "strategy": "threads",
                        "workers": 2,
                        "status": "ok",
                        "tasks": [],
                        "wall_s": {"samples": [0.1]},
                    }
                ],
                "environment": k,
            }
            for k in (0, 1)
        ],
    }
    path.write_text(json.dumps(data))
    proc = run_cli(["show", str(path)])
    assert proc.returncode == 0, proc.stderr
    assert "CPython 3.13.0t (free-threaded build, GIL disabled)" in proc.stdout
    assert "free-threaded" in proc.stdout.split("Side by side")[1]
    assert os.path.exists(path)


def test_the_child_side_never_imports_rich(tmp_path):
    out = tmp_path / "child.json"
    code = (
        "import sys; from conlab.cli.pythons import child_main; "
        f"code = child_main([{str(out)!r}, 'demo', '--quick', '--repeats', '1', '--warmup', '0']); "
        "assert 'rich' not in sys.modules, 'the child imported rich'; sys.exit(code)"
    )
    run_python(code)
    assert len(resultfile.load(str(out)).comparisons) == 6
