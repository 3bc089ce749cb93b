"""The main loop of a worker process: load a task, run it, journal it, send its record back.

``process_main`` is the body of a ``processes`` child (one task, then exit);
``pool_init``, ``pool_ready`` and ``pool_task(s)`` are what a
``ProcessPoolExecutor``'s workers run. Both journal each task (journal.py)
and send records in the wire format (wire.py).
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from typing import Any

from conlab._process import capture, shipping
from conlab._process.execute import current_worker, execute
from conlab._process.journal import WorkerLog
from conlab._process.wire import pack
from conlab.errors import format_error
from conlab.model import ERROR, TaskRecord


def load_task(payload: bytes, index: int) -> Any:
    """The task, or a record of why it could not be loaded here."""
    try:
        return shipping.loads(payload)
    except Exception as exc:
        record = TaskRecord(index=index, name="?", status=ERROR, worker=current_worker())
        record.error = f"the task could not be loaded in the worker process: {format_error(exc)}"
        if shipping.PICKLER == "pickle" and "__main__" in str(exc):
            record.error += (
                " (without cloudpickle, a function defined in __main__ cannot be sent to a "
                "spawned process: install cloudpickle in this Python, or define it in a module)"
            )
        record.traceback = traceback.format_exc()
        return record


# --- one process per task -------------------------------------------------------------


def process_main(conn: Any, payload: bytes, index: int, log_dir: str) -> None:
    """Body of a ``processes`` child: load the task, say ready, wait for go, run, report."""
    log = WorkerLog(log_dir)
    capture.install()
    task = load_task(payload, index)
    if isinstance(task, TaskRecord):
        conn.send_bytes(b"R" + pack(task))
        return
    conn.send_bytes(b"S")
    if conn.recv_bytes() != b"G":
        return
    log.start(index)
    record = execute(task, index, sink=log.sink(index))
    conn.send_bytes(b"R" + pack(record))
    conn.close()


# --- a ProcessPoolExecutor's workers ------------------------------------------------------

_log: WorkerLog | None = None


def pool_init(log_dir: str) -> None:
    global _log
    _log = WorkerLog(log_dir)
    capture.install()


def pool_ready(log_dir: str, workers: int, timeout_s: float, preload: bytes = b"") -> int:
    """A warm-up task: returns when ``workers`` distinct workers are running one each.

    ``preload`` holds the tasks' callables: loading them imports their modules,
    which is start-up, not work. A callable that fails to load fails its own task later.
    """
    if preload:
        with contextlib.suppress(Exception):
            shipping.loads(preload)
    open(os.path.join(log_dir, f"{os.getpid()}.ready"), "w").close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(name.endswith(".ready") for name in os.listdir(log_dir)) >= workers:
            break
        time.sleep(0.001)
    return os.getpid()


def pool_task(payload: bytes, index: int) -> bytes:
    assert _log is not None, "pool_init did not run"
    _log.start(index)
    task = load_task(payload, index)
    if isinstance(task, TaskRecord):
        return pack(task)
    return pack(execute(task, index, sink=_log.sink(index)))


def pool_tasks(payloads: list[bytes], indices: list[int]) -> list[bytes]:
    """A batch of tasks in one submission (``chunksize``); one packed record per task."""
    return [pool_task(payload, index) for payload, index in zip(payloads, indices, strict=True)]
