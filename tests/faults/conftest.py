"""Collects the fault matrix's outcome per cell, for README's Reliability section.

With ``CONLAB_RELIABILITY_JSON=PATH`` set, the session writes each cell (strategy,
fault, survived, the Python it ran under when not this one) to PATH;
``benchmarks/reliability.py`` runs the matrix so and writes the table into README.
A cell survived when its test passed in every phase, the no-orphan check of the
teardown included.
"""

from __future__ import annotations

import json
import os

import pytest

# The cells' checks live there (plain asserts, so that a bare interpreter runs them too).
pytest.register_assert_rewrite("tests.faults.faults")

_cells: dict[tuple[str, str], bool | None] = {}  # None: the strategy cannot run here
_pythons: dict[str, str] = {}  # strategy -> the Python its cells ran under, in a child process


def _label(spec: tuple) -> str:
    name, workers, options = spec
    method = options.get("start_method")
    return f"{name}{':' + str(workers) if workers else ''}{'/' + method if method else ''}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "spec" in params and "fault" in params:
        key = (_label(params["spec"]), params["fault"].name)
        if python := dict(item.user_properties).get("python"):
            _pythons[key[0]] = python
        if report.skipped:
            _cells[key] = None
        elif _cells.get(key, True) is not None:
            _cells[key] = _cells.get(key, True) and not report.failed


def pytest_sessionfinish(session):
    path = os.environ.get("CONLAB_RELIABILITY_JSON")
    if path and _cells:
        with open(path, "w") as f:
            cells = [[s, fault, ok, _pythons.get(s)] for (s, fault), ok in _cells.items()]
            json.dump(cells, f, indent=1)
