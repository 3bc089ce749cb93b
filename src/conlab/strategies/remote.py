"""What cluster engines (Dask, Ray) run on their workers, and the parent's side of their clocks.

A task travels as conlab's own payload and runs through ``execute()`` on the
worker, so capture, timing and errors are the same as for every other
strategy. Times come back on the worker's ``perf_counter_ns`` clock; a worker
on another machine has another clock, so its records are shifted by the
offset measured when the run starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conlab._process import capture, child, shipping
from conlab._process.execute import execute
from conlab._process.wire import pack
from conlab.measure.units import duration
from conlab.model import TaskRecord

_capture_lock = threading.Lock()
_capture_on = False


def _install_capture() -> None:
    """Route this worker process's stdout/stderr per task, once for the life of the process."""
    global _capture_on
    with _capture_lock:
        if not _capture_on:
            capture.install()
            _capture_on = True


def run_task(payload: bytes, index: int, address: str | None = None) -> bytes:
    """Body of a task on a cluster worker: load, execute, pack, naming the worker by ``address``."""
    return run_loaded(load_task(payload, index), index, address)


def load_task(payload: bytes, index: int) -> Any:
    """The task (its modules imported), or the record of why it cannot be loaded here.

    Apart from run_loaded, so that a task's start can be announced once its
    modules are imported: that is start-up, not the task's time.
    """
    _install_capture()
    return child.load_task(payload, index)


def run_loaded(task: Any, index: int, address: str | None = None) -> bytes:
    """Execute a loaded task here and pack its record, naming the worker by ``address``."""
    record = task if isinstance(task, TaskRecord) else execute(task, index)
    if address is not None and record.worker is not None:
        record.worker = dataclasses.replace(record.worker, address=address)
    return pack(record)


def preload(payload: bytes) -> str:
    """Warm-up on a worker: import conlab and the tasks' modules; returns the worker's host."""
    _install_capture()
    if payload:
        with contextlib.suppress(Exception):  # each task reports its own loading error
            shipping.loads(payload)
    return socket.gethostname()


def clock_ns() -> tuple[str, int]:
    """This worker's host and ``perf_counter_ns``, to measure its clock against the parent's."""
    return socket.gethostname(), time.perf_counter_ns()


def measure_offsets(
    probe: Callable[[], Mapping[str, tuple[str, int]]], rounds: int = 3
) -> dict[str, tuple[int, int]]:
    """Each worker's clock minus ours, and its uncertainty (half the round trip), in ns.

    ``probe`` asks every worker for ``clock_ns()`` at once. A worker on this host
    shares our monotonic clock, so its offset is 0 exactly; for another host the
    round with the shortest round trip gives the estimate (as NTP does).
    """
    here = socket.gethostname()
    best: dict[str, tuple[int, int]] = {}
    for _ in range(rounds):
        before = time.perf_counter_ns()
        answers = probe()
        after = time.perf_counter_ns()
        half_rtt = (after - before) // 2
        for address, (host, remote_ns) in answers.items():
            if host == here:
                best[address] = (0, 0)
                continue
            estimate = remote_ns - (before + half_rtt)
            if address not in best or half_rtt < best[address][1]:
                best[address] = (estimate, half_rtt)
    return best


def shift_records(records: Sequence[TaskRecord], offsets: Mapping[str, tuple[int, int]]) -> None:
    """Put records from other machines on our clock, by their worker's measured offset."""
    for record in records:
        address = record.worker.address if record.worker else None
        offset = offsets.get(address or "", (0, 0))[0]
        if not offset:
            continue
        if record.start_ns is not None:
            record.start_ns -= offset
        if record.end_ns is not None:
            record.end_ns -= offset
        record.output_chunks = [(t - offset, text) for t, text in record.output_chunks]


def offset_notes(offsets: Mapping[str, tuple[int, int]]) -> list[str]:
    """One line per worker on another machine: how its times were shifted."""
    return [
        f"clock of {address} is {duration(offset / 1e9, 'ms', sign=True)} from ours "
        f"(±{duration(error / 1e9, 'ms')}); "
        "its task times were shifted onto ours"
        for address, (offset, error) in sorted(offsets.items())
        if offset or error
    ]


def callables_payload(tasks: Sequence[Any]) -> bytes:
    """The distinct callables of the tasks, pickled, for workers to import during start-up."""
    fns = list({id(t.fn): t.fn for t in tasks}.values())
    try:
        return shipping.dumps(fns)
    except Exception:
        return b""
