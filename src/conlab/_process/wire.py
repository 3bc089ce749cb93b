"""What travels between a worker process and its parent: records, and the frames of a journal.

A record travels pickled, its result pickled apart inside the worker (``pack``),
so that a result that cannot be sent back fails its own task and not the
worker. A journal is a file of frames, each a fixed header (``_FRAME``: kind,
perf_counter_ns, task index, payload length) followed by its payload; ``frame``
writes one and ``split_frames`` is the one reader of them.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
import time
import traceback
from typing import Any

from conlab._process import shipping
from conlab.model import ERROR, TaskRecord

_FRAME = struct.Struct("<BqiI")  # kind, perf_counter_ns, task index, payload length
START, OUT, END, HOLD = 1, 2, 3, 4  # a task started; its output; its record; it holds the thread
NOBODY = -1  # a HOLD frame for this index: no task holds the thread any more

Frame = tuple[int, int, int, bytes]  # kind, perf_counter_ns, task index, payload


def frame(kind: int, index: int, payload: bytes = b"") -> bytes:
    """One frame, stamped now."""
    return _FRAME.pack(kind, time.perf_counter_ns(), index, len(payload)) + payload


def split_frames(data: bytes, final: bool = False) -> tuple[list[Frame], int]:
    """The whole frames at the start of ``data``, and how many bytes they take.

    A frame cut short is left for the next read, unless ``final`` (its writer is
    gone): then cut output is kept as far as it goes; a cut record is nothing.
    """
    frames: list[Frame] = []
    pos = 0
    while pos + _FRAME.size <= len(data):
        kind, t_ns, index, length = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if end > len(data) and not (final and kind == OUT):
            break
        frames.append((kind, t_ns, index, data[pos + _FRAME.size : end]))
        pos = min(end, len(data))
    return frames, pos


def pack(record: TaskRecord, sent: str = f"to {shipping.PROCESS}") -> bytes:
    """A record with its result, ready to travel back to the parent.

    The result is pickled here, in the worker, so that a result that cannot be
    sent back is recorded against its own task; ``sent`` is how its hint says
    where the result was going ("to another process", "back from a subinterpreter").
    """
    result_bytes = b""
    if record.ok:
        try:
            result_bytes = shipping.dumps(record.result)
        except Exception as exc:
            record.status = ERROR
            record.error = shipping.unpicklable_hint("the result", record.result, exc, sent)
            record.traceback = traceback.format_exc()
    record.result = None
    return pickle.dumps((record, result_bytes), protocol=pickle.HIGHEST_PROTOCOL)


class Unshipped:
    """Stands for a result that could not leave the sandbox process: its type and repr.

    Under an in-process strategy the result was fine; only the sandbox around the
    run could not send it back. Two are equal when their types are.
    """

    def __init__(self, obj: Any) -> None:
        self.type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        self.text = repr(obj)[:200]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unshipped) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)

    def __repr__(self) -> str:
        return f"<unshipped {self.type_name}: {self.text}>"


def pack_lenient(record: TaskRecord) -> bytes:
    """Like pack, on a copy, keeping the record ok when its result cannot be pickled."""
    try:
        result_bytes = shipping.dumps(record.result) if record.ok else b""
    except Exception:
        result_bytes = shipping.dumps(Unshipped(record.result))
    copy = dataclasses.replace(record, result=None)
    return pickle.dumps((copy, result_bytes), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes) -> TaskRecord:
    record, result_bytes = pickle.loads(data)
    if result_bytes:
        record.result = shipping.loads(result_bytes)
    return record
