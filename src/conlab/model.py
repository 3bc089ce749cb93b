"""conlab's data model: what is run, what happened, and what was measured.

Task and Workload say what to run; TaskRecord says what happened to one task;
Run is one strategy's execution of a workload, repeated; Comparison holds the
runs of every strategy; Results is what a result file holds. Nothing here
measures or prints.
"""

from __future__ import annotations

import contextlib
import heapq
import statistics
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Comparison",
    "Results",
    "Run",
    "Task",
    "TaskRecord",
    "Worker",
    "Workload",
]

OK, ERROR, CRASHED, TIMEOUT, LOST = "ok", "error", "crashed", "timeout", "lost"
TASK_STATUSES = (OK, ERROR, CRASHED, TIMEOUT, LOST)
RUN_OK, RUN_FAILED, RUN_UNAVAILABLE = "ok", "failed", "unavailable"
# Cut short (Ctrl-C, SIGTERM, a file written between rounds): fewer runs than asked, no verdict.
RUN_INCOMPLETE = "incomplete"
RUN_STATUSES = (RUN_OK, RUN_FAILED, RUN_UNAVAILABLE, RUN_INCOMPLETE)
KINDS = ("io", "cpu", "cpu-nogil", "mixed")
# What the lab measured the work as (Comparison.measured_kind), whatever the workload declared.
MEASURED_KINDS = ("waiting", "mixed", "computing", "computing-parallel")
# Where a run's worker count came from (Run.workers_source): named by the user, the usable
# cores, more threads than cores for work that waits, one per task (threads, processes).
SOURCE_GIVEN, SOURCE_CORES, SOURCE_WAITING, SOURCE_PER_TASK = (
    "given",
    "cores",
    "waiting",
    "per-task",
)
WORKERS_SOURCES = (SOURCE_GIVEN, SOURCE_CORES, SOURCE_WAITING, SOURCE_PER_TASK)


@dataclass(frozen=True)
class Task:
    """A callable with its arguments and a display name."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", getattr(self.fn, "__name__", repr(self.fn)))


def _equal(result: Any, reference: Any) -> bool:
    """``result == reference``, where NaN equals NaN: a function returning NaN verifies."""
    try:
        if result == reference:
            return True
    except Exception:  # an array's ambiguous truth, a comparison that raises
        return False
    return _equal_nan(result, reference)


def _equal_nan(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a != a and b != b  # both NaN (a == b was already tried)
    if isinstance(a, (list, tuple)) and type(a) is type(b) and len(a) == len(b):
        return all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return all(_equal(a[k], b[k]) for k in a)
    return False


@dataclass
class Workload:
    """A named list of tasks and what is known about them.

    ``task_durations_s`` is the ideal duration of each task when it is known
    (sleep-based work); it gives the floor for any number of workers.
    ``async_tasks`` is the variant run by the asyncio strategy, if any.
    ``setup``, when given, returns a context manager entered once around all
    the runs of a comparison: it starts what the tasks need (a server, a
    temporary directory) and removes it afterwards.
    """

    name: str
    tasks: list[Task]
    kind: str = "mixed"
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    task_durations_s: list[float] | None = None
    async_tasks: list[Task] | None = None
    check: Callable[[Any, Any], bool] = _equal
    expected: list[Any] | None = None
    setup: Callable[[], AbstractContextManager[Any]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.async_tasks is not None and len(self.async_tasks) != len(self.tasks):
            raise ValueError("async_tasks must have one task per task")

    def floor_s(self, workers: int) -> float | None:
        """The ideal wall time with ``workers`` workers, when task durations are known."""
        if self.task_durations_s is None:
            return None
        return schedule_floor_s(self.task_durations_s, workers)

    def prepared(self) -> AbstractContextManager[Any]:
        """The workload's setup, entered around its runs (nothing when it has none)."""
        return self.setup() if self.setup is not None else contextlib.nullcontext()


def schedule_floor_s(durations_s: Sequence[float], workers: int) -> float:
    """Makespan of the tasks given to ``workers`` workers in order, each to the first free one.

    This is how a pool hands out work, and it is the best possible for equal tasks.
    """
    if not durations_s:
        return 0.0
    free_at = [0.0] * max(1, min(workers, len(durations_s)))
    for d in durations_s:
        start = heapq.heappop(free_at)
        heapq.heappush(free_at, start + d)
    return max(free_at)


@dataclass(frozen=True)
class Worker:
    """Where a task ran."""

    host: str
    pid: int
    thread: int
    # The engine's name for the worker (a Dask worker's address, a Ray node), when there is one.
    address: str | None = None

    def label(self) -> str:
        return f"pid {self.pid} / thread {self.thread}"


@dataclass(slots=True)
class TaskRecord:
    """What happened to one task in one run.

    Times are ``time.perf_counter_ns`` values, one clock for every process of a
    machine; ``output_chunks`` keeps the task's stdout and stderr as written,
    each piece with the time it was written, so output can be shown grouped
    per task or interleaved as it happened.
    """

    index: int
    name: str
    status: str
    start_ns: int | None = None
    end_ns: int | None = None
    cpu_ns: int | None = None
    worker: Worker | None = None
    output_chunks: list[tuple[int, str]] = field(default_factory=list)
    output_dropped_chars: int = 0
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    exit_code: int | None = None
    # How many times an engine started the task: above 1 when it re-ran it after losing a worker.
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def output(self) -> str:
        return "".join(text for _, text in self.output_chunks)

    @property
    def duration_ns(self) -> int | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return self.end_ns - self.start_ns


@dataclass
class Contention:
    """What the rest of the machine did during one timed repeat, in cores on average, and
    whether the run's workers could have had the cores they asked for.

    ``capacity_cores`` is measured next to the repeat when others were busy (None otherwise);
    ``available_cores`` is what was left to the run: the usable cores less the others' and
    the stolen, and at most the capacity.
    """

    other_cores: float | None
    steal_cores: float | None
    asked_cores: float
    available_cores: float | None
    contended: bool = False
    capacity_cores: float | None = None


@dataclass
class Run:
    """One strategy's runs of a workload: every repeat's timing, the records of the median one."""

    strategy: str
    workers: int
    options: dict[str, Any] = field(default_factory=dict)
    status: str = RUN_OK
    reason: str | None = None
    wall_s: list[float] = field(default_factory=list)
    startup_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    peak_rss_bytes: list[int] = field(default_factory=list)
    floor_s: float | None = None
    speedup: float | None = None
    # Added by the measurement issue: private memory, the machine's load, the speed-up's interval.
    peak_uss_bytes: list[int] = field(default_factory=list)
    # Cores used by processes outside this tree during each timed repeat, on average.
    other_cores: list[float] = field(default_factory=list)
    load_avg: list[float] = field(default_factory=list)
    speedup_ci: tuple[float, float] | None = None
    naive_wall_s: float | None = None
    t0_ns: int | None = None
    records: list[TaskRecord] = field(default_factory=list)
    # The machine during each timed repeat (one per wall_s sample, when the lab measured it).
    machine: list[Contention] = field(default_factory=list)
    # Contended repeats set aside for a repeat measured since: their wall times and machines.
    set_aside_wall_s: list[float] = field(default_factory=list)
    set_aside_machine: list[Contention] = field(default_factory=list)
    # True when this run or the reference stayed contended: the speed-up is marked so.
    speedup_contended: bool = False
    # On a free-threaded build: {"after_imports", "after_run", "enabled_by"} (measure/gil.py).
    gil: dict[str, Any] | None = None
    # Where ``workers`` came from (WORKERS_SOURCES); None for the sequential loop.
    workers_source: str | None = None

    @property
    def label(self) -> str:
        """``process-pool:2``: the run's key (result files, diffs)."""
        return f"{self.strategy}:{self.workers}"

    @property
    def shown_strategy(self) -> str:
        """``process-pool/spawn``, as the tables name it; ``processes/spawn, plain`` for the
        lesson's code as written."""
        label = self.strategy
        if "start_method" in self.options:
            label += f"/{self.options['start_method']}"
        if self.options.get("plain"):
            label += ", plain"
        return label

    @property
    def shown_label(self) -> str:
        """``process-pool/spawn:2``: the strategy as the tables name it, with its workers."""
        return f"{self.shown_strategy}:{self.workers}"

    @property
    def median_wall_s(self) -> float | None:
        return statistics.median(self.wall_s) if self.wall_s else None

    @property
    def contended(self) -> bool:
        """Whether a repeat kept did not get the cores its workers asked for."""
        return any(m.contended for m in self.machine)

    @property
    def median_startup_s(self) -> float | None:
        return statistics.median(self.startup_s) if self.startup_s else None

    @property
    def median_cpu_s(self) -> float | None:
        return statistics.median(self.cpu_s) if self.cpu_s else None

    @property
    def max_peak_rss_bytes(self) -> int | None:
        return max(self.peak_rss_bytes) if self.peak_rss_bytes else None

    @property
    def max_peak_uss_bytes(self) -> int | None:
        return max(self.peak_uss_bytes) if self.peak_uss_bytes else None

    @property
    def parallelism(self) -> float | None:
        """CPU time over wall time: ~0 waiting, ~1 under the GIL, ~cores in parallel."""
        wall, cpu = self.median_wall_s, self.median_cpu_s
        if self.status != RUN_OK or not wall or cpu is None:
            return None
        return cpu / wall

    @property
    def overhead_s(self) -> float | None:
        wall = self.median_wall_s
        if wall is None or self.floor_s is None:
            return None
        return wall - self.floor_s


@dataclass(frozen=True)
class MeasuredKind:
    """What the work measured as in the sequential run: its CPU share of wall, and how threads
    did on it. ``kind`` is one of MEASURED_KINDS (see measure/workkind.py)."""

    kind: str
    cpu_share: float
    # The best valid speed-up of a thread strategy, when one ran.
    threads_speedup: float | None = None


@dataclass
class Comparison:
    """Every strategy's run of one workload, with the settings they shared."""

    workload: str
    kind: str
    tasks: int
    params: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    warmup: int = 0
    runs: list[Run] = field(default_factory=list)
    title: str = ""
    notes: list[str] = field(default_factory=list)
    advice: dict[str, Any] | None = None
    # Which of Results.environments it was measured in, when it holds several (--python).
    environment: int | None = None
    # Set when the comparison is one point of a sweep: {"id", "strategy", "workers", "tasks"}.
    sweep: dict[str, Any] | None = None
    # Re-measuring contended rounds: {"max_rounds", "max_s", "rounds", "stopped_by"}.
    remeasure: dict[str, Any] | None = None
    # The work's kind as the sequential run measured it (None until it has run correctly).
    measured_kind: MeasuredKind | None = None

    def run(self, strategy: str, workers: int | None = None) -> Run:
        """The run of ``strategy`` (with ``workers``, when several were run)."""
        for run in self.runs:
            if run.strategy == strategy and (workers is None or run.workers == workers):
                return run
        raise KeyError(f"no run of {strategy}" + (f" with {workers} workers" if workers else ""))

    @property
    def reference(self) -> Run | None:
        for run in self.runs:
            if run.strategy == "sequential":
                return run
        return None

    def __repr__(self) -> str:
        # One line; the table is report/'s (and Jupyter's, once conlab is imported there).
        runs = ", ".join(run.label for run in self.runs)
        return f"Comparison({self.workload!r}, {self.tasks} tasks, runs: {runs})"


@dataclass
class Results:
    """What a result file holds: the environment, once, and one or more comparisons."""

    environment: dict[str, Any]
    comparisons: list[Comparison] = field(default_factory=list)
    complete: bool = True
    # The interpreters measured side by side (--python); each comparison names its own.
    environments: list[dict[str, Any]] = field(default_factory=list)

    def environment_of(self, comparison: Comparison) -> dict[str, Any]:
        """The environment ``comparison`` was measured in."""
        if comparison.environment is None:
            return self.environment
        return self.environments[comparison.environment]
