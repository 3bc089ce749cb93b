"""The GIL coming back on a free-threaded build: a run is marked, and the module named.

The test builds a tiny C extension without the ``Py_mod_gil`` slot with the
free-threaded interpreter's own headers; importing it turns the GIL on.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
from rich.console import Console

from conlab import resultfile
from conlab.report import terminal
from tests.helpers import run_cli
from tests.test_find_pythons import FT, need_cache

EXTENSION = r"""
#include <Python.h>
static PyObject *twice(PyObject *self, PyObject *arg) {
    return PyLong_FromLong(2 * PyLong_AsLong(arg));
}
static PyMethodDef methods[] = {{"twice", twice, METH_O, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "gilback", NULL, -1, methods};
PyMODINIT_FUNC PyInit_gilback(void) { return PyModule_Create(&def); }
"""
# The extension imported with the workload's module, or only inside a task.
AT_IMPORT = "import gilback\n\ndef twice(x):\n    return gilback.twice(x)\n"
IN_A_TASK = "def twice(x):\n    import gilback\n    return gilback.twice(x)\n"
PURE = "def twice(x):\n    return 2 * x\n"


@pytest.fixture
def extension_dir(tmp_path):
    need_cache()
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the test's C extension")
    ask = "import sysconfig as s; print(s.get_paths()['include']); print(s.get_config_var('EXT_SUFFIX'))"
    include, suffix = subprocess.run(
        [FT, "-c", ask], capture_output=True, text=True, check=True
    ).stdout.split()
    (tmp_path / "gilback.c").write_text(EXTENSION)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f"-I{include}", "gilback.c", "-o", f"gilback{suffix}"],
        cwd=tmp_path,
        check=True,
    )
    return tmp_path


def _measure(where, module: str, source: str) -> tuple[resultfile.Results, str]:
    (where / f"{module}.py").write_text(source)
    out = where / f"{module}.json"
    strategies = "sequential,threads,thread-pool:2"
    argv = ["compare", f"{module}:twice", "--range", "4", "--strategies", strategies]
    argv += ["--repeats", "1", "--warmup", "0", "--python", "3.13t", "--json", str(out)]
    proc = run_cli(argv, cwd=str(where), timeout=180)
    assert proc.returncode == 0, proc.stderr
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev group) checks the file")
    jsonschema.validate(json.loads(out.read_text()), resultfile.json_schema())
    return resultfile.load(str(out)), proc.stdout


@pytest.mark.parametrize(
    ("module", "source", "after_imports"),
    [("atimport", AT_IMPORT, True), ("intask", IN_A_TASK, False)],
)
def test_an_extension_without_the_marker_is_named_and_its_threads_not_free(
    extension_dir, module, source, after_imports
):
    results, shown = _measure(extension_dir, module, source)
    (c,) = results.comparisons
    assert results.environment_of(c)["free_threaded_build"] is True
    for run in c.runs:
        assert run.status == "ok", run.reason
        assert run.gil == {
            "after_imports": after_imports,
            "after_run": True,
            "enabled_by": ["gilback"],
        }
    assert any("'gilback' turned it on" in n for n in c.notes), c.notes
    assert "'gilback' turned it on" in shown
    assert "CPython 3.13.5t (free-threaded build, GIL re-enabled)" in shown
    # Side by side, its threads are not called free-threaded, even where the file's
    # environment said the GIL was off (as when it was collected before the import).
    results.environments[0]["gil_enabled"] = False
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(terminal.side_by_side_table(results))
    rows = console.export_text().splitlines()
    assert [r for r in rows if "thread-pool" in r and "free-threaded" not in r], rows


def test_a_pure_python_workload_keeps_the_gil_off(extension_dir):
    results, _ = _measure(extension_dir, "pure", PURE)
    (c,) = results.comparisons
    for run in c.runs:
        assert run.gil == {"after_imports": False, "after_run": False, "enabled_by": []}
    assert not any("GIL came back" in n for n in c.notes)
