"""What goes wrong on a Dask cluster, and what the dask strategy does about it.

A task past the timeout: each task announces its start (a Dask event), and
the watch beside the collection cancels a late one, so that Dask does not
run it again elsewhere, and kills its worker process, a thread being
impossible to stop; the worker's nanny starts another. A cluster with no
worker left: what is left is given up. A task Dask gave up on (KilledWorker):
how its last worker died is known only to that worker's nanny, which logs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conlab._process.crashes import CRASH_HINT, describe_exit
from conlab._process.execute import timed_out, unstarted
from conlab.errors import format_error
from conlab.model import CRASHED, Task, TaskRecord, Worker

NO_WORKER_GRACE_S = 30.0
POLL_S = 0.5
DEADLINE_POLL_S = 0.02
# How long to look in the nannies' logs for how a worker process died (its nanny restarts it).
NANNY_LOG_WAIT_S = 10.0
STARTED_TOPIC = "conlab-task-started"
# What a nanny logs when its worker process dies (distributed/nanny.py, _death_message).
_DEATH = re.compile(r"Worker process (\d+) (?:exited with status (\d+)|was killed by signal (\d+))")


@dataclass(frozen=True)
class Start:
    """A task's start on a worker, as the worker announced it.

    ``start_ns`` is on the worker's clock (the record's start, shifted like the others);
    ``t_ns`` is when the client heard of it, on the client's clock (for the deadline).
    """

    run: str
    index: int
    pid: int
    host: str
    address: str
    nanny: bool
    start_ns: int
    t_ns: int = 0

    def message(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ANNOUNCED}


ANNOUNCED = ("run", "index", "pid", "host", "address", "nanny", "start_ns")


class Watch:
    """Beside the collection: stops tasks past the timeout, gives up on a cluster with no worker."""

    def __init__(
        self, client: Any, tasks: Sequence[Task], timeout_s: float | None, run_id: str
    ) -> None:
        self.client, self.tasks, self.timeout_s, self.run_id = client, tasks, timeout_s, run_id
        self.started: dict[int, Start] = {}
        self.late: dict[int, TaskRecord] = {}  # the records of tasks stopped past the timeout
        self.collected: set[int] = set()
        self.gave_up: str | None = None
        self.lock = threading.Lock()

    def on_started(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's announcement (Client.subscribe_topic calls this in the client's loop)."""
        msg = event[1]  # Dask adds the worker's address as "worker"
        if isinstance(msg, dict) and msg.get("run") == self.run_id:
            fields = {k: msg[k] for k in ANNOUNCED}
            self.started[msg["index"]] = Start(**fields, t_ns=time.perf_counter_ns())

    def collect(self, index: int) -> TaskRecord | None:
        """Mark ``index`` collected; its timeout record, if it was stopped."""
        with self.lock:
            self.collected.add(index)
            return self.late.get(index)

    def run(self, futures: dict[int, Any], stop: threading.Event) -> None:
        since: float | None = None
        next_check = 0.0
        while not stop.wait(DEADLINE_POLL_S if self.timeout_s is not None else POLL_S):
            if self.timeout_s is not None:
                self._stop_late(futures)
            if time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + POLL_S
            try:
                alive = bool(self.client.scheduler_info().get("workers"))
            except Exception:
                alive = False
            if alive:
                since = None
                continue
            since = since if since is not None else time.monotonic()
            if time.monotonic() - since > NO_WORKER_GRACE_S:
                self.gave_up = f"the Dask cluster had no worker for {NO_WORKER_GRACE_S:g} s"
                with contextlib.suppress(Exception):
                    self.client.cancel(list(futures.values()))
                return

    def _stop_late(self, futures: dict[int, Any]) -> None:
        limit_ns = int((self.timeout_s or 0.0) * 1e9)
        now = time.perf_counter_ns()
        for i, start in list(self.started.items()):
            with self.lock:
                if i in self.collected or i in self.late or now - start.t_ns <= limit_ns:
                    continue
                # Cancelled first, so that the scheduler does not run it again on another worker.
                with contextlib.suppress(Exception):
                    self.client.cancel([futures[i]], force=True)
                how = self._stop_worker(start)
                record = timed_out(self.tasks[i], i, self.timeout_s or 0.0, how, start.start_ns)
                record.worker = Worker(start.host, start.pid, 0, start.address)
                self.late[i] = record

    def _stop_worker(self, start: Start) -> str:
        """Kill the worker process running a late task; what became of it, in words."""
        try:
            if start.host == socket.gethostname():
                os.kill(start.pid, signal.SIGKILL)
            else:  # another machine: the worker kills itself (its event loop still runs)
                self.client.run(kill_this_process, workers=[start.address], on_error="return")
        except Exception as exc:
            return (
                f"it was cancelled, but its Dask worker process {start.pid} at {start.address} "
                f"could not be stopped ({format_error(exc)}) and may run on"
            )
        after = (
            "its nanny starts a new one"
            if start.nanny
            else "it has no nanny, so the cluster has one worker fewer"
        )
        return f"its Dask worker process {start.pid} at {start.address} was killed; {after}"


def kill_this_process() -> int:
    """On a worker, through Client.run: SIGKILL this process once the reply is on its way."""
    pid = os.getpid()
    threading.Timer(0.2, os.kill, (pid, signal.SIGKILL)).start()
    return pid


def killed_record(client: Any, task: Task, index: int, exc: Any) -> TaskRecord:
    """A task Dask gave up on: every worker it was given to died. How the last one died, if known.

    Dask counts a worker's death against every task it held, running or queued behind.
    """
    last = exc.last_worker
    tries = int(exc.allowed_failures) + 1
    code = exit_code(client, last.pid) if last.nanny else None
    why = "it had no nanny" if not last.nanny else "its nanny did not log it"
    how = f"died with {describe_exit(code)}" if code is not None else f"died ({why} how)"
    record = unstarted(
        task,
        index,
        CRASHED,
        f"{tries} Dask workers died while they had it, and Dask gave up on it (KilledWorker); "
        f"the last, worker process {last.pid} at {last.address}, {how}; {CRASH_HINT}",
    )
    record.worker = Worker(last.host, last.pid, 0, last.address)
    record.exit_code, record.attempts = code, tries
    return record


def exit_code(client: Any, pid: int) -> int | None:
    """How worker process ``pid`` ended, from its nanny's log (negative: a signal), or None.

    The nanny is asked through the scheduler, which reaches it once its new worker is up.
    """
    deadline = time.monotonic() + NANNY_LOG_WAIT_S
    while True:
        with contextlib.suppress(Exception):
            for lines in client.get_worker_logs(nanny=True).values():
                for _, line in lines:
                    match = _DEATH.search(line)
                    if match and int(match[1]) == pid:
                        return int(match[2]) if match[2] is not None else -int(match[3])
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_S)
