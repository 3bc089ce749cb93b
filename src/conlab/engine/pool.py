"""conlab's own worker processes: lean, crash-aware, stoppable.

Each worker is a ``multiprocessing.Process`` with a pipe of its own. The
function travels once per worker (cloudpickle), chunks travel as pickled
lists, results come back as one message per chunk. The parent waits on the
pipes and the process sentinels together, so a dead worker is seen at once,
with its exit code, and replaced; its chunks go back to the engine, which
retries them or reports them. Nothing here uses a helper thread.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import sys
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait as wait_ready
from typing import Any

from conlab.engine.backends import Backend, Chunk, Done
from conlab.engine.chunks import CRASHED, LOAD_FAILED, QUEUED, READY, TIMEOUT, dumps_fast
from conlab.engine.worker import worker_main
from conlab.errors import ItemTimeoutError, UsageError, WorkerCrashedError

GROW_AFTER_S = 0.002  # no result yet after this: start the next worker anyway


class _Worker:
    __slots__ = ("conn", "inflight", "proc", "ready_ns", "since_ns")

    def __init__(self, proc: Any, conn: Any) -> None:
        self.proc = proc
        self.conn = conn
        self.inflight: deque[Chunk] = deque()
        self.since_ns = 0  # when the chunk at the front of inflight started
        self.ready_ns = 0  # when it said it had loaded the function (0: not yet)


class ProcessBackend(Backend):
    """Chunks through ``workers`` worker processes, ``depth`` chunks queued on each."""

    target_s = 0.002

    def __init__(
        self,
        fn: Callable[[Any], Any],
        workers: int,
        start_method: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        from conlab._process.crashes import resolve_start_method

        method = resolve_start_method(start_method)
        self.fn_bytes = _pickle_function(fn, method)
        self.ctx: Any = multiprocessing.get_context(method)
        self.n_workers = workers
        self.timeout_s = timeout_s
        # With a timeout each worker holds one chunk, so its start time is known.
        self.depth = 1 if timeout_s is not None else 2
        self.slots = self.depth
        self.workers: list[_Worker] = []
        self.ready: list[Done] = []
        self.pending: deque[Chunk] = deque()  # submitted, not yet sent to a worker
        self.delivered = False  # whether a result has been handed back yet

    def _start_worker(self) -> _Worker:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(
            target=worker_main, args=(child, self.fn_bytes), name="conlab-map", daemon=True
        )
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def submit(self, chunk: Chunk) -> None:
        if chunk.payload is None:
            chunk.payload = self._pack_items(chunk)
            if chunk.payload is None:
                return
        if not self.workers:
            self._add_worker()
        self.pending.append(chunk)
        self._dispatch()

    def _dispatch(self) -> None:
        """Send pending chunks to the least busy workers.

        A chunk of several items may queue behind another on a busy worker (it
        then never waits for a round trip); a chunk of one item (a slow item, or
        one not measured yet) waits here for an idle worker, so that it is never
        stuck behind a long one while another worker has nothing to do.
        """
        while self.pending:
            chunk = self.pending[0]
            w = min(self.workers, key=lambda w: len(w.inflight))
            if len(w.inflight) >= (1 if chunk.size == 1 else self.depth):
                return
            self.pending.popleft()
            if not w.inflight:
                w.since_ns = time.perf_counter_ns()
            w.inflight.append(chunk)
            with contextlib.suppress(OSError):  # a dead worker: its sentinel tells wait()
                w.conn.send_bytes(chunk.payload or b"")

    def take_back(self) -> list[Chunk]:
        """The chunks submitted but not yet sent to a worker, taken back to run elsewhere."""
        chunks = list(self.pending)
        self.pending.clear()
        return chunks

    def _pack_items(self, chunk: Chunk) -> bytes | None:
        items, chunk.items = chunk.items, None
        try:
            return self.pack_items(items)
        except UsageError as error:
            self.ready.append(Done(chunk, status="error", error=error))
            return None

    def pack_items(self, items: Any) -> bytes:
        """A chunk's items as the workers read them; UsageError when one cannot be pickled."""
        try:
            return QUEUED + dumps_fast(items) if self.queued else dumps_fast(items)
        except Exception:
            pass
        from conlab._process import shipping

        try:
            return (QUEUED if self.queued else b"") + shipping.dumps(items)
        except Exception as exc:
            bad = next((x for x in items or () if not _picklable(x)), None)
            raise UsageError(shipping.unpicklable_hint("an item", bad, exc)) from None

    def _add_worker(self) -> None:
        self.workers.append(self._start_worker())
        self.slots = self.depth * len(self.workers)
        self._dispatch()

    def wait(self, timeout_s: float | None = None) -> list[Done]:
        # The first worker starts with the first chunk, the others once a result is out or
        # GROW_AFTER_S has passed without one: a quick first result does not wait for every
        # fork, and slow items soon have every worker. wait() then returns early (maybe
        # empty), so that the engine fills the new worker's slots.
        if self.delivered and len(self.workers) < self.n_workers:
            self._add_worker()
            return self._take()
        until_s = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.ready:
            busy = [w for w in self.workers if w.inflight]
            assert busy, "wait() with nothing in flight"
            by_conn = {w.conn: w for w in busy}
            by_sentinel = {w.proc.sentinel: w for w in busy}
            growing = len(self.workers) < self.n_workers
            wait_s = self._wait_s(busy)
            if growing:
                wait_s = GROW_AFTER_S if wait_s is None else min(wait_s, GROW_AFTER_S)
            if until_s is not None:
                left_s = max(0.0, until_s - time.monotonic())
                wait_s = left_s if wait_s is None else min(wait_s, left_s)
            ready = wait_ready([*by_conn, *by_sentinel], wait_s)
            for obj in ready:
                if obj in by_conn:
                    w = by_conn[obj]
                    if w in self.workers and not self._receive(w):
                        self._crashed(w)
                elif by_sentinel[obj] in self.workers:
                    self._crashed(by_sentinel[obj])
            self._check_deadlines()
            self._dispatch()
            if growing and not ready:
                self._add_worker()
                break
            if until_s is not None and time.monotonic() >= until_s:
                break
        return self._take()

    def running(self) -> list[tuple[int, int]]:
        """(pid, ns since it started its current chunk) of each worker that is running one,
        counted from when the worker was ready (its start-up is not the items' work)."""
        now_ns = time.perf_counter_ns()
        return [
            (w.proc.pid, now_ns - max(w.since_ns, w.ready_ns))
            for w in self.workers
            if w.inflight and w.ready_ns
        ]

    def _take(self) -> list[Done]:
        done, self.ready = self.ready, []
        self.delivered = self.delivered or bool(done)
        return done

    def _receive(self, w: _Worker) -> bool:
        """Read one reply of ``w``; False when its pipe is closed (it died)."""
        try:
            data = w.conn.recv_bytes()
        except (EOFError, OSError):
            return False
        if data == READY:
            w.ready_ns = time.perf_counter_ns()
            return True
        chunk = w.inflight.popleft()
        w.since_ns = time.perf_counter_ns()
        where = f"worker process {w.proc.pid}"
        if data.startswith(LOAD_FAILED):
            error = RuntimeError(pickle.loads(data[1:]))
            self.ready.append(Done(chunk, status="error", error=error, where=where))
        else:
            self.ready.append(Done(chunk, packed=data, where=where))
        return True

    def _crashed(self, w: _Worker) -> None:
        """Collect what the dead worker had sent, hand its other chunks back, replace it."""
        if w not in self.workers:
            return
        with contextlib.suppress(OSError):
            while w.inflight and w.conn.poll() and self._receive(w):
                pass
        w.proc.join(5)
        from conlab._process.crashes import describe_exit  # the parent's, on a crash only

        how = describe_exit(w.proc.exitcode)
        for chunk in w.inflight:
            last = chunk.start + chunk.size - 1
            items = f"item {chunk.start}" if chunk.size == 1 else f"items {chunk.start}..{last}"
            error = WorkerCrashedError(
                f"worker process {w.proc.pid} died with {how} while running {items}"
            )
            self.ready.append(Done(chunk, status=CRASHED, error=error, where=f"pid {w.proc.pid}"))
        self._replace(w)

    def _replace(self, w: _Worker) -> None:
        w.conn.close()
        self.workers[self.workers.index(w)] = self._start_worker()
        self._dispatch()

    def _wait_s(self, busy: list[_Worker]) -> float | None:
        if self.timeout_s is None:
            return None
        first_ns = min(w.since_ns for w in busy)
        return max(0.0, first_ns / 1e9 + self.timeout_s - time.perf_counter_ns() / 1e9)

    def _check_deadlines(self) -> None:
        if self.timeout_s is None:
            return
        now_ns = time.perf_counter_ns()
        for w in list(self.workers):
            if w.inflight and now_ns - w.since_ns >= self.timeout_s * 1e9:
                w.proc.kill()
                w.proc.join(5)
                chunk = w.inflight.popleft()
                error = ItemTimeoutError(
                    f"item {chunk.start} ran longer than the timeout of {self.timeout_s:g} s; "
                    f"its worker process {w.proc.pid} was stopped"
                )
                self.ready.append(Done(chunk, status=TIMEOUT, error=error))
                self._replace(w)  # depth 1: the worker held no other chunk

    def retire(self) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError):
                w.conn.send_bytes(b"")

    def close(self, abort: bool) -> None:
        workers, self.workers = self.workers, []
        if not abort:
            for w in workers:
                with contextlib.suppress(OSError):
                    w.conn.send_bytes(b"")
            deadline = time.monotonic() + 2
            for w in workers:
                w.proc.join(max(0.0, deadline - time.monotonic()))
        for w in workers:
            if w.proc.is_alive():
                w.proc.kill()
        for w in workers:
            w.proc.join(5)
            w.conn.close()


def _pickle_function(fn: Callable[[Any], Any], method: str) -> bytes:
    """The function for the workers: by reference with pickle where a worker can import it
    (as multiprocessing sends its targets: the worker then needs no cloudpickle), by value
    with cloudpickle otherwise (lambdas, closures, a notebook's or a REPL's functions)."""
    main = sys.modules.get("__main__")
    typed_in = getattr(fn, "__module__", None) == "__main__" and not hasattr(main, "__file__")
    if not typed_in or method == "fork":  # a forked worker has this process's __main__
        try:
            return pickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            pass
    from conlab._process import shipping  # cloudpickle: when a pool is made, not imported

    try:
        return shipping.dumps(fn)
    except Exception as exc:
        raise UsageError(shipping.unpicklable_hint("the function", fn, exc)) from None


def _picklable(obj: Any) -> bool:
    from conlab._process import shipping

    try:
        shipping.dumps(obj)
    except Exception:
        return False
    return True


def default_workers() -> int:
    from conlab.measure.environment import usable_cpus

    return usable_cpus()
