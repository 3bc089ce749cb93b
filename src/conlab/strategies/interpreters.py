"""Subinterpreters, each with its own GIL, run from a pool of threads of this process.

Python 3.14 has ``concurrent.futures.InterpreterPoolExecutor``; 3.13 has the
PEP 734 machinery as the private ``_interpreters`` module, used here the same
way: N isolated interpreters, one per worker thread. A task travels pickled by
reference, so its function must be importable by module in a fresh
interpreter: a function defined in ``__main__`` or a notebook cell cannot be.
Each task runs through conlab's ``execute()`` inside the subinterpreter, so its
output and errors are captured as everywhere else. In a sandbox (``isolate``),
the subinterpreters note their tasks in the sandbox's journal: a task that ends
the process (``os._exit``, a segfault) then takes only itself down.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from conlab._process import capture, shipping
from conlab._process import execute as execute_module
from conlab._process.child import load_task
from conlab._process.execute import unstarted
from conlab._process.journal import FrameLog
from conlab._process.wire import pack, unpack
from conlab.errors import format_error
from conlab.model import ERROR, Task, TaskRecord
from conlab.strategies.base import INTERPRETERS, Execution, Strategy

# Runs in the subinterpreter's __main__, with the names the parent shares.
_BOOT = """\
import sys
for _p in reversed(_conlab_path.split("\\0")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
from conlab.strategies import interpreters as _conlab_interpreters
"""
_TASK = (
    "_conlab_interpreters.run_here(_conlab_payload, _conlab_index, _conlab_out, _conlab_journal)\n"
)
_PRELOAD = "_conlab_interpreters.preload_here(_conlab_payload)\n"


def backend() -> str | None:
    """``InterpreterPoolExecutor``, ``_interpreters`` or None, for this interpreter."""
    if sys.version_info >= (3, 14):
        import concurrent.futures

        if hasattr(concurrent.futures, "InterpreterPoolExecutor"):
            return "InterpreterPoolExecutor"
    if sys.version_info >= (3, 13):
        try:
            import _interpreters  # noqa: F401
        except ImportError:
            return None
        return "_interpreters"
    return None


def unavailable_reason() -> str | None:
    if backend() is not None:
        return None
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 13):
        return (
            f"subinterpreters with their own GIL need Python 3.13 or later (this is {version}); "
            "run with --python 3.13 (`conlab pythons` lists the interpreters found)"
        )
    return f"this Python {version} was built without subinterpreter support (_interpreters)"


class InterpretersStrategy(Strategy):
    name = "interpreters"
    family = INTERPRETERS
    description = (
        "subinterpreters with their own GIL: InterpreterPoolExecutor (3.14), _interpreters (3.13)"
    )
    ships_to = shipping.SUBINTERPRETER

    def unavailable_reason(self) -> str | None:
        return unavailable_reason()

    def describe_options(self) -> dict[str, Any]:
        return {"backend": backend()} if backend() else {}

    def run(self, tasks: Sequence[Task]) -> Execution:
        payloads: list[bytes | TaskRecord] = [_payload(t, i) for i, t in enumerate(tasks)]
        if backend() == "InterpreterPoolExecutor":
            return _run_pool_executor(self.workers or 1, tasks, payloads)
        return _run_low_level(self.workers or 1, tasks, payloads)


def _payload(task: Task, index: int) -> bytes | TaskRecord:
    """The task pickled by reference, or the record saying why it cannot go to a subinterpreter."""
    module = getattr(task.fn, "__module__", None)
    if module in ("__main__", "__mp_main__", None):
        return unstarted(
            task,
            index,
            ERROR,
            f"{task.name} is defined in __main__, which a subinterpreter cannot import: "
            "define it in a module and import it from there",
        )
    try:
        return _dumps(task)
    except Exception as exc:
        hint = shipping.task_hint(task, exc, shipping.SUBINTERPRETER, _dumps)
        return unstarted(task, index, ERROR, hint)


def _dumps(obj: Any) -> bytes:
    """Pickled by reference: the subinterpreter imports what it is sent."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _journal_fd() -> int:
    """The frames file of the sandbox this runs in, for the subinterpreters' tasks (-1: none)."""
    journal = execute_module.journal
    return journal.frames_fd if isinstance(journal, FrameLog) else -1


# --- inside the subinterpreter ----------------------------------------------------------

_capture_on = False


def _install_capture() -> None:
    global _capture_on
    if not _capture_on:
        capture.install()
        _capture_on = True


def preload_here(payload: bytes) -> None:
    _install_capture()
    with contextlib.suppress(Exception):
        pickle.loads(payload)


def run_here(payload: bytes, index: int, out_path: str, journal_fd: int) -> None:
    """Load, execute and pack one task, writing the packed record to ``out_path``."""
    with open(out_path, "wb") as f:
        f.write(task_bytes(payload, index, journal_fd))


def task_bytes(payload: bytes, index: int, journal_fd: int) -> bytes:
    """One task, run here and packed; noted in the sandbox's journal (``journal_fd``, -1: none)."""
    _install_capture()
    execute_module.journal = FrameLog(journal_fd) if journal_fd >= 0 else None
    task = load_task(payload, index)
    record = task if isinstance(task, TaskRecord) else execute_module.execute(task, index)
    return pack(record, f"back from {shipping.SUBINTERPRETER}")


# --- 3.13: _interpreters, one per worker thread -------------------------------------------


def _run_low_level(
    workers: int, tasks: Sequence[Task], payloads: list[bytes | TaskRecord]
) -> Execution:
    import _interpreters

    s0 = time.perf_counter_ns()
    path = "\0".join(p for p in sys.path if p)
    preload = _callables(tasks)
    idle: queue.Queue[int] = queue.Queue()
    created: list[int] = []
    out_dir = tempfile.mkdtemp(prefix="conlab-interp-")
    journal_fd = _journal_fd()
    try:
        for _ in range(workers):
            interp = _interpreters.create()
            created.append(interp)
            failure = _interpreters.exec(
                interp, _BOOT + _PRELOAD, {"_conlab_path": path, "_conlab_payload": preload}
            )
            if failure is not None:
                why = f"a subinterpreter could not load conlab: {_describe(failure)}"
                now = time.perf_counter_ns()
                records = [unstarted(t, i, ERROR, why) for i, t in enumerate(tasks)]
                return Execution(records, now, now, startup_ns=now - s0)
            idle.put(interp)

        def one(index: int, payload: bytes) -> TaskRecord:
            interp = idle.get()
            out = os.path.join(out_dir, f"{index}.rec")
            try:
                failure = _interpreters.exec(
                    interp,
                    _TASK,
                    {
                        "_conlab_payload": payload,
                        "_conlab_index": index,
                        "_conlab_out": out,
                        "_conlab_journal": journal_fd,
                    },
                )
            finally:
                idle.put(interp)
            if failure is not None:
                return unstarted(
                    tasks[index], index, ERROR, f"in the subinterpreter: {_describe(failure)}"
                )
            with open(out, "rb") as f:
                return unpack(f.read())

        with ThreadPoolExecutor(workers, thread_name_prefix="conlab-interp") as pool:
            t0, c0 = time.perf_counter_ns(), time.process_time()
            futures = [
                p if isinstance(p, TaskRecord) else pool.submit(one, i, p)
                for i, p in enumerate(payloads)
            ]
            records = [
                f if isinstance(f, TaskRecord) else _result(f, tasks, i)
                for i, f in enumerate(futures)
            ]
            t1, cpu = time.perf_counter_ns(), time.process_time() - c0
    finally:
        for interp in created:
            with contextlib.suppress(Exception):
                _interpreters.destroy(interp)
        for name in os.listdir(out_dir):
            os.unlink(os.path.join(out_dir, name))
        os.rmdir(out_dir)
    # The subinterpreters run in this process's threads: its CPU time from t0 is the run's, and
    # their start-up's (creating them, importing conlab in each) is left out with its time.
    return Execution(records, t0, t1, startup_ns=t0 - s0, cpu_s=cpu)


def _result(future: Future[TaskRecord], tasks: Sequence[Task], index: int) -> TaskRecord:
    try:
        return future.result()
    except Exception as exc:
        return unstarted(tasks[index], index, ERROR, f"in the subinterpreter: {format_error(exc)}")


def _describe(failure: Any) -> str:
    """An ``_interpreters`` exception snapshot, on one line."""
    kind = getattr(getattr(failure, "type", None), "__name__", None) or "error"
    msg = getattr(failure, "msg", None) or str(failure)
    return f"{kind}: {msg}"


def _callables(tasks: Sequence[Task]) -> bytes:
    fns = list({id(t.fn): t.fn for t in tasks}.values())
    try:
        return _dumps(fns)
    except Exception:
        return b""


# --- 3.14: concurrent.futures.InterpreterPoolExecutor --------------------------------------


def _run_pool_executor(
    workers: int, tasks: Sequence[Task], payloads: list[bytes | TaskRecord]
) -> Execution:
    from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]

    s0 = time.perf_counter_ns()
    journal_fd = _journal_fd()
    with InterpreterPoolExecutor(max_workers=workers) as pool:
        preload = _callables(tasks)
        for f in [pool.submit(preload_here, preload) for _ in range(workers)]:
            with contextlib.suppress(Exception):
                f.result()
        t0, c0 = time.perf_counter_ns(), time.process_time()
        futures = [
            p if isinstance(p, TaskRecord) else pool.submit(task_bytes, p, i, journal_fd)
            for i, p in enumerate(payloads)
        ]
        records = []
        for i, f in enumerate(futures):
            if isinstance(f, TaskRecord):
                records.append(f)
                continue
            try:
                records.append(unpack(f.result()))
            except Exception as exc:
                records.append(
                    unstarted(tasks[i], i, ERROR, f"in the subinterpreter: {format_error(exc)}")
                )
        t1, cpu = time.perf_counter_ns(), time.process_time() - c0
    return Execution(records, t0, t1, startup_ns=t0 - s0, cpu_s=cpu)
