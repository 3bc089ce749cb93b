"""A Dask ``distributed.Client``: a LocalCluster of one-thread worker processes, or a scheduler by address.

Each task runs through conlab's ``execute()`` on a worker (strategies/remote.py).
The cluster's start-up (and, for an existing cluster, connecting) is timed
apart. A worker lost mid-task is Dask's to handle: the scheduler re-runs the
task elsewhere (the record's ``attempts`` says so) or gives up with
``KilledWorker``: the record is ``crashed``, with the exit code or signal of
the last worker process that died. A cluster left with no worker does not
hang the run: what is left is ``lost``. With a timeout, a task past it is
``timeout``: cancelled, and its worker process killed. How: dask_faults.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from conlab._process import shipping
from conlab._process.crashes import stdio_redirected
from conlab._process.execute import unstarted
from conlab._process.wire import unpack
from conlab.errors import StrategyUnavailable, UsageError, format_error
from conlab.measure.tree import self_cpu_s
from conlab.model import CRASHED, ERROR, LOST, Task, TaskRecord
from conlab.strategies import remote
from conlab.strategies.base import CLUSTER, Execution, Strategy
from conlab.strategies.dask_faults import STARTED_TOPIC, Start, Watch, killed_record

INSTALL_HINT = "Dask is not installed: pip install 'conlab[dask]'"
CONNECT_TIMEOUT_S = 30.0
# A scheduler's address as Dask prints it: PROTOCOL://HOST:PORT (tcp:// when left out), IPv6 in [].
_ADDRESS = re.compile(r"^(?:[a-z]+://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+):\d{1,5}$")


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise StrategyUnavailable(INSTALL_HINT) from None
    return distributed


class DaskStrategy(Strategy):
    name = "dask"
    family = CLUSTER
    option_names = ("scheduler",)
    description = "a Dask distributed.Client: a LocalCluster of N one-thread worker processes, or --scheduler ADDRESS"
    uses_processes = True
    ships_to = shipping.PROCESS
    handles_timeout = True
    requires = ("distributed", "pip install 'conlab[dask]'")

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        super().__init__(workers)
        if scheduler is not None and not _ADDRESS.match(scheduler):
            raise UsageError(
                f"--scheduler {scheduler!r} is not a scheduler's address: give "
                "tcp://HOST:PORT (or HOST:PORT), as the scheduler prints it when it starts"
            )
        self.scheduler = scheduler
        self.options = {"scheduler": scheduler} if scheduler else {}

    def unavailable_reason(self) -> str | None:
        try:
            _import_distributed()
        except StrategyUnavailable as exc:
            return str(exc)
        return None

    def run(self, tasks: Sequence[Task]) -> Execution:
        distributed = _import_distributed()
        s0 = time.perf_counter_ns()
        cluster, client = self._open(distributed)
        try:
            return self._run_on(client, distributed, tasks, s0)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _open(self, distributed: Any) -> tuple[Any, Any]:
        """A LocalCluster and a client of it, or a client of the scheduler at ``self.scheduler``."""
        if self.scheduler:
            try:
                client = distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise StrategyUnavailable(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {format_error(exc)}; "
                    "check the address (tcp://HOST:PORT) and that the scheduler is running"
                ) from None
            return None, client
        # The cluster's processes get the terminal's Ctrl-C too, and printed its tracebacks
        # (mid-import, or 'Status.init') and a leaked-semaphore warning over conlab's one
        # line: their stdout and stderr go to a file removed at once, where no one sees them.
        fd, log = tempfile.mkstemp(prefix="conlab-dask-", suffix=".log")
        os.close(fd)
        instances = distributed.deploy.spec.SpecCluster._instances
        before = set(instances)
        try:
            with stdio_redirected(log, "spawn"):
                cluster = self._local_cluster(distributed)
        except BaseException:
            _forget_half_started(instances, before)
            raise
        finally:
            os.unlink(log)
        try:
            return cluster, distributed.Client(cluster)
        except BaseException:
            cluster.close()
            raise

    def _local_cluster(self, distributed: Any) -> Any:
        return distributed.LocalCluster(
            n_workers=self.workers or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # The scheduler serves /health even without a dashboard, on 8787 unless told:
            # a free port avoids clashing with (and warning about) another cluster.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            # Its nannies live in this process and log to its stderr. At a Ctrl-C the terminal
            # stops the workers too, and a nanny, closing, logged an ERROR with its traceback
            # under conlab's one line (once in two suites here, on a loaded machine). What goes
            # wrong in the cluster reaches the user as the tasks' records (dask_faults.py).
            silence_logs=logging.CRITICAL,
        )

    def _run_on(self, client: Any, distributed: Any, tasks: Sequence[Task], s0: int) -> Execution:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        try:
            client.run(remote.preload, remote.callables_payload(tasks))
        except Exception as exc:
            # Usually conlab itself is missing on the workers: every task says so.
            why = (
                f"the Dask workers cannot run conlab's task runner ({format_error(exc)}); "
                "install conlab in the workers' environment"
            )
            now = time.perf_counter_ns()
            return Execution([unstarted(t, i, ERROR, why) for i, t in enumerate(tasks)], now, now)
        offsets = remote.measure_offsets(lambda: client.run(remote.clock_ns))
        cpu0 = _cluster_cpu_s(client)
        run_id = uuid.uuid4().hex[:8]
        records: list[TaskRecord | None] = [None] * len(tasks)
        watch = Watch(client, tasks, self.timeout_s, run_id)
        if self.timeout_s is not None:
            client.subscribe_topic(STARTED_TOPIC, watch.on_started)
        t0 = time.perf_counter_ns()
        shipped: dict[int, bytes] = {}
        for i, task in enumerate(tasks):
            try:
                shipped[i] = shipping.dumps(task)
            except Exception as exc:
                records[i] = unstarted(task, i, ERROR, shipping.task_hint(task, exc))
        keys = [f"conlab-{tasks[i].name}-{i}-{run_id}" for i in shipped]
        # One map, not one submit per task: the scheduler gets them in one message.
        submitted = client.map(
            _on_worker,
            list(shipped.values()),
            list(shipped),
            key=keys,
            pure=False,
            announce=run_id if self.timeout_s is not None else None,
        )
        futures = {f.key: (i, f) for i, f in zip(shipped, submitted, strict=True)}
        try:
            _collect(client, distributed, tasks, futures, records, watch)
        finally:
            if self.timeout_s is not None:
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(STARTED_TOPIC)
        t1 = time.perf_counter_ns()
        cpu1 = _cluster_cpu_s(client) if cpu0 is not None else None
        cpu = cpu1 - cpu0 if cpu1 is not None and cpu0 is not None else None
        _count_attempts(client, futures, records)
        done = [r for r in records if r is not None]
        remote.shift_records(done, offsets)
        return Execution(
            done, t0, t1, startup_ns=t0 - s0, cpu_s=cpu, notes=remote.offset_notes(offsets)
        )


def _on_worker(payload: bytes, index: int, announce: str | None = None) -> bytes:
    """Runs on the Dask worker: the task through execute(), the record naming the worker.

    With ``announce`` (a run id), the worker tells the client when the task starts here,
    once loaded: importing its modules in a fresh worker does not count against a timeout.
    """
    from distributed import get_worker

    dask_worker = get_worker()
    task = remote.load_task(payload, index)
    if announce is not None:
        start = Start(
            announce,
            index,
            os.getpid(),
            socket.gethostname(),
            dask_worker.address,
            bool(dask_worker.nanny),
            time.perf_counter_ns(),
        )
        dask_worker.log_event(STARTED_TOPIC, start.message())
    return remote.run_loaded(task, index, address=dask_worker.address)


def _collect(
    client: Any,
    distributed: Any,
    tasks: Sequence[Task],
    futures: dict[str, tuple[int, Any]],
    records: list[TaskRecord | None],
    watch: Watch,
) -> None:
    """Record each future as it ends, while the watch stops late tasks and dead clusters."""
    index_of = {f.key: i for i, f in futures.values()}
    stop = threading.Event()
    by_index = {i: f for i, f in futures.values()}
    dog = threading.Thread(target=watch.run, args=(by_index, stop), daemon=True)
    dog.start()
    try:
        for future in distributed.as_completed(list(by_index.values())):
            i = index_of[future.key]
            late = watch.collect(i)
            if late is not None:
                records[i] = late
            elif future.cancelled() and watch.gave_up:
                records[i] = unstarted(tasks[i], i, LOST, watch.gave_up)
            else:
                records[i] = _outcome(client, future, tasks[i], i, distributed)
    finally:
        stop.set()
        dog.join()


def _outcome(client: Any, future: Any, task: Task, index: int, distributed: Any) -> TaskRecord:
    try:
        return unpack(future.result())
    except distributed.KilledWorker as exc:
        return killed_record(client, task, index, exc)
    except Exception as exc:  # cancelled, or the scheduler lost it
        return unstarted(task, index, LOST, f"Dask did not run it: {format_error(exc)}")


def _count_attempts(
    client: Any, futures: dict[str, tuple[int, Any]], records: list[TaskRecord | None]
) -> None:
    """How often each task was started: the scheduler counts the workers that died running it."""
    with contextlib.suppress(Exception):
        died = client.run_on_scheduler(_suspicious, list(futures))
        for key, (i, _) in futures.items():
            record = records[i]
            # A crashed record counts its own attempts: every one of them died.
            if record is not None and record.status != CRASHED and died.get(key):
                record.attempts = 1 + int(died[key])


def _suspicious(keys: list[str], dask_scheduler: Any = None) -> dict[str, int]:
    """On the scheduler: for each key, how many workers died while running it."""
    tasks = dask_scheduler.tasks
    return {k: int(getattr(tasks.get(k), "suspicious", 0) or 0) for k in keys}


def _cluster_cpu_s(client: Any) -> float | None:
    """CPU seconds of this process and every worker process so far, wherever they run."""
    try:
        workers = client.run(self_cpu_s)
    except Exception:
        return None
    return self_cpu_s() + sum(workers.values())


def _forget_half_started(instances: Any, before: set[Any]) -> None:
    """A cluster cut short while starting (Ctrl-C): distributed closes it at exit, fails
    ('AssertionError: Status.init') and prints that; its processes end with this one."""
    for cluster in set(instances) - before:
        instances.discard(cluster)
    # The start's own tasks, never awaited now, would be reported at exit ('never retrieved').
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
