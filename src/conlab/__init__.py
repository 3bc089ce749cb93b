"""conlab: a concurrency lab for Python.

Run one workload under every way Python can run work at the same time,
measure each run honestly, check that every run did the work, and compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conlab._lazy import lazy_getattr
from conlab._version import __version__

__all__ = [
    "Comparison",
    "ConlabError",
    "Interrupted",
    "ItemFailure",
    "ItemTimeoutError",
    "ResultFileError",
    "Results",
    "Run",
    "StrategyUnavailable",
    "Task",
    "TaskRecord",
    "UnknownNameError",
    "UsageError",
    "UserCodeError",
    "WorkerCrashedError",
    "Workload",
    "__version__",
    "advise",
    "compare",
    "map",
    "sweep",
]

from conlab.errors import (
    ConlabError,
    Interrupted,
    ItemTimeoutError,
    ResultFileError,
    StrategyUnavailable,
    UnknownNameError,
    UsageError,
    UserCodeError,
    WorkerCrashedError,
)

if TYPE_CHECKING:
    from conlab.api import advise, compare, sweep
    from conlab.engine import ItemFailure, map
    from conlab.model import Comparison, Results, Run, Task, TaskRecord, Workload


def _show_in_jupyter() -> None:
    # Inside IPython, comparisons display as their report (report/ renders, not the model).
    import sys

    if "IPython" in sys.modules:
        from conlab.report import notebook

        notebook.register()


_show_in_jupyter()

_LAZY = {
    "Comparison": "conlab.model",
    "Results": "conlab.model",
    "Run": "conlab.model",
    "Task": "conlab.model",
    "TaskRecord": "conlab.model",
    "Workload": "conlab.model",
    "advise": "conlab.api",
    "compare": "conlab.api",
    "sweep": "conlab.api",
    "map": "conlab.engine",
    "ItemFailure": "conlab.engine",
}

# The model, the lab, the strategies and the engine are imported on first use, so that
# `import conlab` stays fast (as concurrent.futures does with its executors) and a
# spawned conlab.map worker, which imports conlab first, loads only what it runs.
__getattr__ = lazy_getattr(__name__, _LAZY)
