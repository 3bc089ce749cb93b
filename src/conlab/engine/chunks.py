"""Running one chunk of items, and what comes back from it: values, failures, time.

The same runner serves every backend: in the calling thread, in a worker thread
and in a worker process. It calls the function through ``list.extend(map(...))``,
a loop in C, and keeps going after an item fails, so a chunk costs the function
calls and little else.
"""

from __future__ import annotations

import contextlib
import marshal
import pickle
import resource
import struct
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

# What failed in a chunk: (position in the chunk, the exception, its traceback as text).
Errors = list[tuple[int, BaseException, str]]
# values, failures or None, the chunk's wall time, its thread's CPU time, and the time the
# thread waited for a CPU that others kept busy (ns; 0 when not asked or not known)
ChunkOutcome = tuple[list[Any], Errors | None, int, int, int]
_SCHEDSTAT = "/proc/thread-self/schedstat"

ERROR, CRASHED, TIMEOUT = "error", "crashed", "timeout"


def runqueue_ns() -> int:
    """Time this thread has spent ready to run but waiting for a CPU (Linux; 0 elsewhere)."""
    try:
        with open(_SCHEDSTAT, "rb") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)


def _blocked() -> int:
    """Times this thread has blocked (voluntary context switches; -1 where unknown)."""
    if _RUSAGE_THREAD is None:
        return -1
    return resource.getrusage(_RUSAGE_THREAD).ru_nvcsw


def _queued_ns(ns: int, cpu_ns: int, q0: int, blocked0: int) -> int:
    """The chunk's time waiting for a CPU. A thread that never blocked did not wait for
    anything else: all it did not compute, it waited for a CPU (run queue, or a virtual CPU
    the host was running something else on, which the run queue does not show)."""
    queued = runqueue_ns() - q0
    if blocked0 >= 0 and _blocked() == blocked0:
        queued = max(queued, ns - cpu_ns)
    return min(queued, ns)  # the scheduler's clock and this one can drift apart


def run_chunk(fn: Callable[[Any], Any], items: Sequence[Any], queued: bool = False) -> ChunkOutcome:
    """``fn`` over ``items``: the values (None where an item failed), the failures, the times.

    The CPU time of the running thread beside the wall time tells waiting from
    computing (conlab.map's auto choice): two clock reads more per chunk. With
    ``queued``, the time the thread waited for a busy CPU too (two small reads
    of /proc and two getrusage calls), so that a busy machine is not taken for
    waiting work.
    """
    q0, blocked0 = (runqueue_ns(), _blocked()) if queued else (0, -1)
    values: list[Any] = []
    errors: Errors | None = None
    it = iter(items)
    cpu0 = time.thread_time_ns()
    t0 = time.perf_counter_ns()
    while True:
        try:
            values.extend(map(fn, it))  # partial values are kept when an item raises
            break
        except Exception as exc:
            if errors is None:
                errors = []
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            errors.append((len(values), exc, tb))
            values.append(None)
    ns, cpu_ns = time.perf_counter_ns() - t0, time.thread_time_ns() - cpu0
    return values, errors, ns, cpu_ns, _queued_ns(ns, cpu_ns, q0, blocked0) if queued else 0


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, as its ``__cause__``."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


class ItemFailure:
    """What ``conlab.map(..., errors="collect")`` yields in place of a failed item's result.

    ``status`` is ``error`` (the function raised), ``crashed`` (its worker died)
    or ``timeout``; ``error`` is the exception, ``traceback`` its text.
    """

    __slots__ = ("error", "index", "status", "traceback")

    def __init__(self, index: int, status: str, error: BaseException, traceback: str) -> None:
        self.index = index
        self.status = status
        self.error = error
        self.traceback = traceback

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemFailure):
            return NotImplemented
        return (self.index, self.status, self.error, self.traceback) == (
            other.index,
            other.status,
            other.error,
            other.traceback,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ItemFailure(index={self.index!r}, status={self.status!r}, "
            f"error={self.error!r}, traceback={self.traceback!r})"
        )


# --- across a process boundary -------------------------------------------------------------


def dumps_fast(obj: Any) -> bytes:
    """``marshal`` for plain data (ints, floats, strings, lists...: a third faster), else pickle."""
    try:
        return marshal.dumps(obj)
    except ValueError:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads_fast(data: bytes | memoryview) -> Any:
    # Pickle (protocol 2 and up) starts with 0x80, which no marshal type code does.
    return pickle.loads(data) if data[:1] == b"\x80" else marshal.loads(data)


# A worker's reply: OUTCOME, the chunk's wall and CPU ns (read without unpacking the values),
# then the values and failures; or LOAD_FAILED and why the items could not be loaded.
# READY, once, when a worker has loaded the function (its CPU time from then on is the items').
OUTCOME, LOAD_FAILED, READY = b"=", b"!", b"+"
# A chunk's items may come prefixed with QUEUED: measure the time it waits for a busy CPU.
QUEUED = b"?"
_TIMES = struct.Struct("<qqq")
_BODY = len(OUTCOME) + _TIMES.size


def pack_outcome(outcome: ChunkOutcome) -> bytes:
    """The outcome as bytes for the parent; a value or exception that cannot travel becomes an error."""
    values, errors, ns, cpu_ns, queued_ns = outcome
    head = OUTCOME + _TIMES.pack(ns, cpu_ns, queued_ns)
    if errors is None:
        with contextlib.suppress(ValueError):
            return head + marshal.dumps((values, None))
    portable = None if errors is None else [_portable(e) for e in errors]
    try:
        return head + pickle.dumps((values, portable), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    from conlab._process import shipping  # cloudpickle, in a worker only once something failed

    portable = portable or []
    for pos, value in enumerate(values):
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            values[pos] = None
            hint = shipping.unpicklable_hint("the result", value, exc)
            portable.append((pos, None, "PicklingError", hint, traceback.format_exc()))
    portable.sort(key=lambda e: e[0])
    return head + pickle.dumps((values, portable), protocol=pickle.HIGHEST_PROTOCOL)


def _portable(error: tuple[int, BaseException, str]) -> tuple[int, bytes | None, str, str, str]:
    from conlab._process import shipping

    pos, exc, tb = error
    try:
        data = shipping.dumps(exc)
        pickle.loads(data)  # an exception whose __init__ takes other arguments fails here
    except Exception:
        return pos, None, type(exc).__name__, str(exc), tb
    return pos, data, type(exc).__name__, str(exc), tb


def packed_times(data: bytes) -> tuple[int, int, int]:
    """The wall, CPU and run-queue ns of a packed outcome, without unpacking its values."""
    ns, cpu_ns, queued_ns = _TIMES.unpack_from(data, len(OUTCOME))
    return ns, cpu_ns, queued_ns


def unpack_outcome(data: bytes) -> ChunkOutcome:
    ns, cpu_ns, queued_ns = packed_times(data)
    values, portable = loads_fast(memoryview(data)[_BODY:])
    if not portable:
        return values, None, ns, cpu_ns, queued_ns
    errors: Errors = []
    for pos, exc_bytes, type_name, text, tb in portable:
        exc: BaseException
        if exc_bytes is not None:
            exc = pickle.loads(exc_bytes)
        else:
            exc = RuntimeError(f"{type_name}: {text}")
        exc.__cause__ = RemoteTraceback(tb)
        errors.append((pos, exc, tb))
    return values, errors, ns, cpu_ns, queued_ns


def load_items(payload: bytes) -> tuple[Any, bool]:
    """A chunk's items from their bytes, and whether its run-queue time is asked for."""
    if payload[:1] == QUEUED:
        return loads_fast(memoryview(payload)[1:]), True
    return loads_fast(payload), False


def label(exc: BaseException, index: int, where: str) -> BaseException:
    """Say on the exception which item raised it and where, as a note (3.11+) and attributes."""
    text = f"raised by item {index} of conlab.map ({where})"
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(text)
    with contextlib.suppress(AttributeError):  # exceptions with __slots__
        exc.conlab_index = index  # type: ignore[attr-defined]
    return exc


class ChunkSizer:
    """Chunk sizes from the measured time per item, so that each chunk is worth ``target_s``.

    The first chunks hold one item each, until a measurement comes back: a slow
    item is never stuck behind others in a chunk, and a fast one soon gets big chunks.
    """

    def __init__(self, target_s: float, max_items: int, fixed: int | None = None) -> None:
        self.target_ns = target_s * 1e9
        self.max_items = max_items
        self.fixed = fixed
        self.items = 0
        self.ns = 0

    def observe(self, n_items: int, compute_ns: int) -> None:
        self.items += n_items
        self.ns += compute_ns

    @property
    def per_item_s(self) -> float | None:
        return self.ns / self.items / 1e9 if self.items else None

    def next_size(self) -> int:
        if self.fixed is not None:
            return self.fixed
        if not self.items:
            return 1
        per_item_ns = max(self.ns / self.items, 1.0)
        return max(1, min(self.max_items, int(self.target_ns / per_item_ns)))
