"""The main loop of one of ``conlab.map``'s worker processes, and all it imports.

A spawned or forkserver worker imports this module to find ``worker_main``:
it loads the function, the chunk runner and the wire format, and nothing of
the engine's loop, the strategies or the advice. The function arrives
pickled by cloudpickle; unpickling it imports cloudpickle only if the function
was pickled by value.
"""

from __future__ import annotations

import pickle
import signal
from collections import deque
from typing import Any

from conlab.engine.chunks import LOAD_FAILED, READY, load_items, pack_outcome, run_chunk


def worker_main(conn: Any, fn_bytes: bytes) -> None:
    """A worker: load the function, then run chunks until told to stop (an empty message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        fn = pickle.loads(fn_bytes)
    except Exception as exc:
        fn = _Unloadable(f"the function could not be loaded in the worker: {exc!r}")
    recv, send, poll = conn.recv_bytes, conn.send_bytes, conn.poll
    try:
        send(READY)
    except OSError:
        return
    pending: deque[bytes] = deque()
    while True:
        try:
            msg = pending.popleft() if pending else recv()
        except (EOFError, OSError):
            return
        if not msg:
            return
        try:
            items, queued = load_items(msg)
        except Exception as exc:
            reply = LOAD_FAILED + pickle.dumps(
                f"the items could not be loaded in the worker: {exc!r}"
            )
        else:
            reply = pack_outcome(run_chunk(fn, items, queued))
        # Read what the parent is sending before replying: neither side then waits on the other.
        while poll():
            pending.append(recv())
        send(reply)


class _Unloadable:
    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, item: Any) -> Any:
        raise RuntimeError(self.message)
