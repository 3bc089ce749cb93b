"""The contract every strategy keeps.

A strategy takes a list of tasks, executes each exactly once and returns one
TaskRecord per task, in task order, whatever happened. It never raises for a
task's failure: it records it. Only Ctrl-C (KeyboardInterrupt) goes through,
after every child the strategy started has been stopped.
"""

from __future__ import annotations

import abc
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from conlab.errors import UsageError
from conlab.model import Task, TaskRecord


@dataclass
class Execution:
    """One execution of a list of tasks.

    ``t0_ns`` is the first submission and ``t1_ns`` the last result, so the wall
    time excludes ``startup_ns`` (creating the pool or starting the processes)
    where the strategy can time it apart. ``naive_wall_ns`` is what a plain
    ``time.time()`` around the user's code would have shown, where it differs.
    ``cpu_s`` is the CPU time of the process tree between t0 and t1, where the
    strategy can tell it apart from start-up; otherwise the lab measures it.
    """

    records: list[TaskRecord]
    t0_ns: int
    t1_ns: int
    startup_ns: int | None = None
    naive_wall_ns: int | None = None
    cpu_s: float | None = None
    notes: list[str] = field(default_factory=list)
    # Peak RSS of the tree that ran the tasks, when the strategy measured it itself (a sandbox).
    peak_rss_bytes: int | None = None
    # On a free-threaded build, the GIL when the tasks were done (measure.gil.now()).
    gil: dict[str, Any] | None = None

    @property
    def wall_ns(self) -> int:
        return self.t1_ns - self.t0_ns


# The families: how a strategy runs work, for what chooses among strategies (the advice, the
# lesson, the tests) without spelling their names.
SEQUENTIAL = "sequential"
THREADS = "threads"
PROCESSES = "processes"
ASYNCIO = "asyncio"
INTERPRETERS = "interpreters"
# On workers a scheduler hands tasks to (Dask, Ray): a cluster is started, or one is given.
CLUSTER = "cluster"
FAMILIES = (SEQUENTIAL, THREADS, PROCESSES, ASYNCIO, INTERPRETERS, CLUSTER)


def pool_size(asked: int | None, n_tasks: int) -> tuple[int, list[str]]:
    """The workers a pool starts for ``n_tasks`` tasks, and the note saying so when fewer.

    A pool never gives one task to two workers: past the task count they would only
    start and wait (thread-pool:10000 for 2 tasks started 10,000 threads).
    """
    workers = asked or 1
    if workers <= max(1, n_tasks):
        return workers, []
    started = max(1, n_tasks)
    return started, [f"{started} of the {workers} workers started: one per task is all it can use"]


class Strategy(abc.ABC):
    """One way of executing a list of tasks, with a worker count and options.

    The class attributes below are everything the lab, the advice and the lesson
    read of a strategy besides ``run()``: a new strategy declares them and is
    one line in the registry (``strategies/__init__.py``).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    family: ClassVar[str]
    # The options the constructor takes besides ``workers`` (make() refuses any other).
    option_names: ClassVar[tuple[str, ...]] = ()
    # Whether ``workers`` means anything: ``threads`` and ``processes`` start one per task.
    pooled: ClassVar[bool] = True
    # Whether tasks run in processes other than this one (so their pids differ from ours).
    uses_processes: ClassVar[bool] = False
    # Whether it runs the workload's async variant (``Workload.async_tasks``), not its tasks.
    wants_async: ClassVar[bool] = False
    # Where tasks and results travel pickled (shipping.PROCESS, shipping.SUBINTERPRETER), as
    # hints name it; None: they are handed over as they are, so they need not pickle.
    ships_to: ClassVar[str | None] = None
    # Whether run() itself stops waiting for a task past ``timeout_s`` (threads abandon it);
    # otherwise the sandbox running an in-process strategy stops it (see sandbox.py).
    handles_timeout: ClassVar[bool] = False
    # The module an optional extra installs, and how to install it ('conlab strategies' checks
    # with importlib.util.find_spec, without importing it); None: it needs nothing more.
    requires: ClassVar[tuple[str, str] | None] = None
    # Per-task time limit in seconds (None: none), and whether to run in a sandbox process:
    # True always, False never (--in-process), None when the tasks are the user's code.
    timeout_s: float | None = None
    isolate: bool | None = None
    # Whether it runs the user's code as written (the lesson's ``Process(target=...)``): no
    # result comes back, so the lab checks no result and keeps its notes out of the report.
    plain: bool = False

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise UsageError(f"workers must be a whole number of at least 1, not {workers!r}")
        self.workers = workers
        self.options = options

    def configure(self, timeout_s: float | None = None, isolate: bool | None = None) -> Strategy:
        """Set the options every strategy has: a per-task timeout, and isolation (see isolate)."""
        if timeout_s is not None:
            if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
                raise UsageError(f"timeout must be a number of seconds, not {timeout_s!r}")
            if not 0 < timeout_s < 1e6:
                raise UsageError(f"timeout must be more than 0 seconds, not {timeout_s!r}")
            self.timeout_s = float(timeout_s)
            self.options["timeout_s"] = self.timeout_s
        if isolate is not None:
            if not isolate and timeout_s is not None and not self.uses_processes:
                raise UsageError(
                    f"{self.name} in conlab's own process cannot stop a task at a timeout: "
                    "drop --in-process (isolate=False) or --timeout"
                )
            self.isolate = bool(isolate)
            self.options["isolate"] = self.isolate
        return self

    @classmethod
    def start_methods(cls) -> list[str | None]:
        """The start methods it can be built with here; ``[None]`` when it takes none."""
        if "start_method" not in cls.option_names:
            return [None]
        return list(multiprocessing.get_all_start_methods())

    def unavailable_reason(self) -> str | None:
        """Why this strategy cannot run here, or None when it can."""
        return None

    def workers_for(self, n_tasks: int) -> int:
        """How many workers run ``n_tasks`` tasks."""
        if not self.pooled:
            return n_tasks
        return self.workers or 1

    @abc.abstractmethod
    def run(self, tasks: Sequence[Task]) -> Execution:
        """Execute every task once and return one record per task, in task order."""

    def describe_options(self) -> dict[str, Any]:
        return dict(self.options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers!r}, **{self.options!r})"
