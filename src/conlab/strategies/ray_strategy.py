"""Ray tasks: a local ``ray.init(num_cpus=N)`` by default, an existing cluster by ``ray_address``.

Each task runs through conlab's ``execute()`` in a Ray worker
(strategies/remote.py), one CPU each. Tasks are not retried
(``max_retries=0``): a worker that dies mid-task gives a ``crashed`` record,
not a silent second run. Ray does not say how its worker died (no exit code,
no signal), so neither can the record. Start-up (``ray.init``, the workers'
first task) is timed apart.

With a timeout, each task is a Ray generator whose first item says that it
started, and in which process; one still running past the timeout is
force-cancelled, which kills its worker process (Ray starts another when it
needs one), and recorded ``timeout``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

from conlab._process import shipping
from conlab._process.crashes import CRASH_HINT
from conlab._process.execute import timed_out, unstarted
from conlab._process.wire import unpack
from conlab.errors import StrategyUnavailable, format_error
from conlab.measure.tree import pid_cpu_s, self_cpu_s
from conlab.model import CRASHED, ERROR, LOST, Task, TaskRecord, Worker
from conlab.strategies import remote
from conlab.strategies.base import CLUSTER, Execution, Strategy

INSTALL_HINT = "Ray is not installed: pip install 'conlab[ray]'"


def _import_ray() -> Any:
    # Under `uv run`, Ray would start its workers with `uv run` in a copy of the working
    # directory, an environment without ray: they never register and the run hangs. The
    # workers are to run in this interpreter's environment, like every other strategy's.
    # Ray reads the switch when it is imported, so it is set before.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError:
        raise StrategyUnavailable(INSTALL_HINT) from None
    except Exception as exc:  # a broken install: say what broke
        raise StrategyUnavailable(f"Ray cannot be imported here: {format_error(exc)}") from None
    return ray


class RayStrategy(Strategy):
    name = "ray"
    family = CLUSTER
    option_names = ("ray_address",)
    description = "Ray tasks: a local ray.init(num_cpus=N), or --ray-address ADDRESS"
    uses_processes = True
    requires = ("ray", "pip install 'conlab[ray]'")
    ships_to = shipping.PROCESS
    handles_timeout = True

    def __init__(self, workers: int | None = None, ray_address: str | None = None) -> None:
        super().__init__(workers)
        self.ray_address = ray_address
        self.options = {"ray_address": ray_address} if ray_address else {}

    def unavailable_reason(self) -> str | None:
        try:
            _import_ray()
        except StrategyUnavailable as exc:
            return str(exc)
        return None

    def run(self, tasks: Sequence[Task]) -> Execution:
        ray = _import_ray()
        s0 = time.perf_counter_ns()
        started_here = not ray.is_initialized()
        if started_here:
            self._init(ray)
        try:
            return self._run_on(ray, tasks, s0)
        finally:
            if started_here:
                ray.shutdown()

    def _init(self, ray: Any) -> None:
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": "error",
        }
        if self.ray_address:
            kwargs["address"] = self.ray_address
        else:
            # "local": a new Ray of our own, even where `ray start` left the address of its
            # cluster in /tmp/ray (ray.init() would connect to that one, or fail if it is gone).
            kwargs["address"], kwargs["num_cpus"] = "local", self.workers or 1
        try:
            ray.init(**kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise StrategyUnavailable(f"cannot start or reach Ray: {format_error(exc)}") from None

    def _run_on(self, ray: Any, tasks: Sequence[Task], s0: int) -> Execution:
        run_remote = ray.remote(num_cpus=1, max_retries=0)(_on_worker)
        warm = ray.remote(num_cpus=1, max_retries=0)(_preload)
        payload = remote.callables_payload(tasks)
        pids = set(ray.get([warm.remote(payload) for _ in range(self.workers or 1)]))
        offsets = remote.measure_offsets(lambda: _clocks(ray))
        if self.timeout_s is not None:
            run_remote = ray.remote(num_cpus=1, max_retries=0)(_on_worker_announcing)
        records: list[TaskRecord | None] = [None] * len(tasks)
        refs: dict[int, Any] = {}
        cpu0 = _cpu_s(pids)
        t0 = time.perf_counter_ns()
        for i, task in enumerate(tasks):
            try:
                payload = shipping.dumps(task)
            except Exception as exc:
                records[i] = unstarted(task, i, ERROR, shipping.task_hint(task, exc))
                continue
            refs[i] = run_remote.remote(payload, i)
        if self.timeout_s is None:
            for i, ref in refs.items():
                records[i] = _outcome(ray, ref, tasks[i], i)
        else:
            _collect_with_deadlines(ray, refs, tasks, records, self.timeout_s)
        t1 = time.perf_counter_ns()
        done = [r for r in records if r is not None]
        # Ray's own daemons (raylet, GCS) run all along: the run's CPU is ours and the
        # warmed-up workers' (a worker Ray starts mid-run is not counted).
        cpu = _cpu_s(pids) - cpu0
        remote.shift_records(done, offsets)
        return Execution(
            done, t0, t1, startup_ns=t0 - s0, cpu_s=cpu, notes=remote.offset_notes(offsets)
        )


def _on_worker(payload: bytes, index: int) -> bytes:
    """Runs in a Ray worker: the task through execute(), the record naming the node."""
    import ray

    return remote.run_task(payload, index, address=ray.get_runtime_context().get_node_id())


def _on_worker_announcing(payload: bytes, index: int) -> Iterator[Any]:
    """A Ray generator: where and when the task starts (once loaded), then its record."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    task = remote.load_task(payload, index)
    yield Worker(socket.gethostname(), os.getpid(), 0, node), time.perf_counter_ns()
    yield remote.run_loaded(task, index, address=node)


def _collect_with_deadlines(
    ray: Any,
    generators: dict[int, Any],
    tasks: Sequence[Task],
    records: list[TaskRecord | None],
    timeout_s: float,
) -> None:
    """Each task's record as it comes; a task running past ``timeout_s`` is force-cancelled.

    A task's clock starts when its first item reaches us, so that time spent
    waiting for a free CPU does not count.
    """
    limit_ns = int(timeout_s * 1e9)
    started: dict[int, tuple[int, Worker, int]] = {}  # index -> (heard ns, worker, start ns)
    pending = dict(generators)
    while pending:
        due = [started[i][0] + limit_ns for i in pending if i in started]
        wait_s = max(0.0, (min(due) - time.perf_counter_ns()) / 1e9) if due else None
        ready, _ = ray.wait(list(pending.values()), num_returns=1, timeout=wait_s)
        for gen in ready:
            i = next(k for k, g in pending.items() if g is gen)
            try:
                value = ray.get(next(gen))
            except Exception as exc:
                _, where, start_ns = started.get(i, (0, None, None))
                record = _failure(ray, exc, tasks[i], i, where)
                record.start_ns = start_ns
                records[i] = record
                del pending[i]
                continue
            if i in started:
                records[i] = unpack(value)
                del pending[i]
            else:
                started[i] = (time.perf_counter_ns(), *value)
        now = time.perf_counter_ns()
        for i in [i for i in pending if i in started and now - started[i][0] > limit_ns]:
            _, where, start_ns = started[i]
            ray.cancel(pending.pop(i), force=True)
            how = (
                f"Ray force-cancelled it, which killed its worker process {where.pid} "
                "(Ray starts another when it needs one)"
            )
            record = timed_out(tasks[i], i, timeout_s, how, start_ns)
            record.worker = where
            records[i] = record


def _preload(payload: bytes) -> int:
    time.sleep(0.05)  # holds this worker so that the next warm-up task starts another
    remote.preload(payload)
    return os.getpid()


def _cpu_s(worker_pids: set[int]) -> float:
    """CPU seconds so far of this process and of the local worker processes."""
    return self_cpu_s() + sum(pid_cpu_s(pid) for pid in worker_pids)


def _clock() -> tuple[str, int]:
    return remote.clock_ns()


def _clocks(ray: Any) -> dict[str, tuple[str, int]]:
    """Each live node's host and clock, read by a task pinned to that node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0)(_clock)
    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    refs = {
        node: probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
        ).remote()
        for node in nodes
    }
    return {node: ray.get(ref) for node, ref in refs.items()}


def _outcome(ray: Any, ref: Any, task: Task, index: int) -> TaskRecord:
    try:
        return unpack(ray.get(ref))
    except ray.exceptions.RayError as exc:
        return _failure(ray, exc, task, index)


def _failure(
    ray: Any, exc: BaseException, task: Task, index: int, where: Worker | None = None
) -> TaskRecord:
    """The record of a task Ray could not bring back: its worker died, or Ray lost it.

    ``where`` is the worker the task said it started on, when it could say so.
    """
    exceptions = ray.exceptions
    if isinstance(exc, (exceptions.WorkerCrashedError, exceptions.NodeDiedError)):
        words = " ".join(str(exc).split())
        process = f"process {where.pid}" if where else "process"
        record = unstarted(
            task,
            index,
            CRASHED,
            f"its Ray worker {process} died while running it, and Ray does not say how "
            f'(no exit code or signal; Ray\'s words: "{words}"); {CRASH_HINT}',
        )
        record.worker = where
        return record
    return unstarted(task, index, LOST, f"Ray did not run it: {format_error(exc)}")
