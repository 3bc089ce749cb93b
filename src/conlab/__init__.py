"""conlab: a concurrency lab for Python.

Run one workload under every way Python can run work at the same time,
measure each run honestly, check that every run did the work, and compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "ConlabError",
    "Results",
    "Run",
    "Task",
    "TaskRecord",
    "Workload",
    "__version__",
    "advise",
    "compare",
]

from conlab.errors import ConlabError
from conlab.model import Comparison, Results, Run, Task, TaskRecord, Workload

if TYPE_CHECKING:
    from conlab.api import advise, compare


def __getattr__(name: str) -> Any:
    # The lab and the strategies are imported on first use, so `import conlab` stays fast.
    if name == "compare":
        from conlab.api import compare

        return compare
    if name == "advise":
        from conlab.api import advise

        return advise
    raise AttributeError(f"module 'conlab' has no attribute {name!r}")
