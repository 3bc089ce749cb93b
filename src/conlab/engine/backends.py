"""How chunks of items get executed: the backend contract, and the in-process backends.

A backend takes chunks (``submit``) and hands back finished ones (``wait``),
at most ``slots`` at a time; the engine does the rest (reading the input,
sizing chunks, ordering, failures, retries). A strategy of the registry plugs
into ``conlab.map`` by registering a backend factory under its name
(``register``); a strategy without one runs through ``StrategyBackend``, which
hands each chunk to the strategy as one task.
"""

from __future__ import annotations

import _thread
import abc
import queue
import threading
from collections.abc import Callable
from typing import Any

from conlab.engine.chunks import ChunkOutcome, packed_times, run_chunk


class Chunk:
    """Consecutive items of the input: ``seq`` orders chunks, ``start`` is the first item's index.

    ``payload``: the items pickled, kept by process backends for retries.
    (Plain classes with slots, not dataclasses: a worker process does not import them.)
    """

    __slots__ = ("attempts", "items", "payload", "seq", "size", "start")

    def __init__(
        self,
        seq: int,
        start: int,
        size: int,
        items: list[Any] | None = None,
        payload: bytes | None = None,
        attempts: int = 0,
    ) -> None:
        self.seq = seq
        self.start = start
        self.size = size
        self.items = items
        self.payload = payload
        self.attempts = attempts


class Done:
    """A finished chunk: its outcome (or its packed bytes, unpacked when its turn comes),
    or a failure of the whole chunk (``status`` crashed or timeout) with the error."""

    __slots__ = ("chunk", "error", "outcome", "packed", "status", "where")

    def __init__(
        self,
        chunk: Chunk,
        outcome: ChunkOutcome | None = None,
        packed: bytes | None = None,
        status: str | None = None,
        error: BaseException | None = None,
        where: str = "this process",
    ) -> None:
        self.chunk = chunk
        self.outcome = outcome
        self.packed = packed
        self.status = status
        self.error = error
        self.where = where

    def times_ns(self) -> tuple[int, int, int] | None:
        """The chunk's wall, CPU and run-queue time where it ran, when it ran to the end."""
        if self.outcome is not None:
            return self.outcome[2], self.outcome[3], self.outcome[4]
        if self.packed is not None:
            return packed_times(self.packed)
        return None


class Backend(abc.ABC):
    """Runs chunks of items through ``fn`` somewhere; at most ``slots`` chunks at a time."""

    slots: int = 1
    # Chunk size target: each chunk is worth about target_s of work, and holds no more than
    # max_items, nor more than max_inflight_items / slots (memory stays flat for tiny items).
    target_s: float = 0.002
    max_items: int = 16384
    max_inflight_items: int = 65536
    timeout_s: float | None = None
    # Whether chunks also measure the time they waited for a busy CPU (auto's evidence).
    queued: bool = False

    @abc.abstractmethod
    def submit(self, chunk: Chunk) -> None:
        """Start running ``chunk`` (its ``items`` are set)."""

    @abc.abstractmethod
    def wait(self, timeout_s: float | None = None) -> list[Done]:
        """Block until a submitted chunk is finished (or ``timeout_s`` passed), return the finished ones.

        The list may be empty: on a timeout, or when the backend grew and has
        slots for more chunks.
        """

    @abc.abstractmethod
    def close(self, abort: bool) -> None:
        """Release the workers; ``abort``: stop them now, whatever they are running."""

    def retire(self) -> None:  # noqa: B027 - most backends have nothing to do early
        """Nothing is in flight and nothing more will come: tell the workers to go, without
        waiting for them (``close`` reaps them later)."""


Factory = Callable[[Callable[[Any], Any], int | None, dict[str, Any]], Backend]
BACKENDS: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make strategy ``name`` run ``conlab.map`` through the backend ``factory(fn, workers, options)``."""
    BACKENDS[name] = factory


class InlineBackend(Backend):
    """The calling thread, one chunk at a time (strategy ``sequential``)."""

    target_s = 0.001

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.pending: list[Chunk] = []

    def submit(self, chunk: Chunk) -> None:
        self.pending.append(chunk)

    def wait(self, timeout_s: float | None = None) -> list[Done]:
        chunk = self.pending.pop(0)
        assert chunk.items is not None
        return [Done(chunk, run_chunk(self.fn, chunk.items), where="the calling thread")]

    def close(self, abort: bool) -> None:
        self.pending.clear()


class ThreadBackend(Backend):
    """Worker threads fed through a queue (``thread-pool``), or one thread per chunk (``threads``).

    Threads cannot be stopped from outside, so a timeout needs a process strategy.
    """

    target_s = 0.001
    max_inflight_items = 16384  # threads share the GIL: bigger chunks buy nothing, cost memory

    def __init__(self, fn: Callable[[Any], Any], workers: int, per_chunk: bool = False) -> None:
        self.fn = fn
        self.workers = workers
        self.per_chunk = per_chunk
        self.slots = 2 * workers
        self.inbox: queue.SimpleQueue[Chunk | None] = queue.SimpleQueue()
        self.outbox: queue.SimpleQueue[Done] = queue.SimpleQueue()
        self.started = 0  # pool threads started
        self.alive = 0  # pool threads not yet gone
        self.gone = threading.Condition()

    def _run(self, chunk: Chunk, name: str) -> None:
        assert chunk.items is not None
        outcome = run_chunk(self.fn, chunk.items, self.queued)
        self.outbox.put(Done(chunk, outcome, where=f"thread {name}"))

    def _loop(self, name: str) -> None:
        try:
            while (chunk := self.inbox.get()) is not None:
                self._run(chunk, name)
        finally:
            with self.gone:
                self.alive -= 1
                self.gone.notify_all()

    def submit(self, chunk: Chunk) -> None:
        # _thread's threads: threading.Thread.start() waits for each new thread to run, a
        # hand-off of the GIL per thread (200 threads among sleeping ones: 26 against 14 ms).
        if self.per_chunk:
            _thread.start_new_thread(self._run, (chunk, f"conlab-map-{chunk.seq}"))
            return
        if self.started < self.workers:
            with self.gone:
                self.alive += 1
            _thread.start_new_thread(self._loop, (f"conlab-map-{self.started}",))
            self.started += 1
        self.inbox.put(chunk)

    def wait(self, timeout_s: float | None = None) -> list[Done]:
        try:
            done = [self.outbox.get(timeout=timeout_s)]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self.outbox.get_nowait())
            except queue.Empty:
                return done

    def retire(self) -> None:
        for _ in range(self.started):
            self.inbox.put(None)
        self.started = 0

    def close(self, abort: bool) -> None:
        """Tell the threads to go. Every result is out when this is called without abort: the
        threads only have to end, which they do without the caller waiting for each (as
        joining 200 threads one by one would); ``join`` waits for them."""
        # A thread running user code cannot be stopped: on abort, the threads finish their
        # current chunk in the background and find no more work.
        if abort:
            while True:
                try:
                    self.inbox.get_nowait()
                except queue.Empty:
                    break
        self.retire()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until every pool thread has ended; whether they all did."""
        with self.gone:
            return self.gone.wait_for(lambda: self.alive == 0, timeout_s)


class StrategyBackend(Backend):
    """Any strategy of the registry: each chunk runs as one task of ``strategy.run``.

    Slower than a native backend (the strategy starts its workers for each
    chunk), but it makes every strategy name work until it registers its own.
    """

    target_s = 0.05

    def __init__(self, fn: Callable[[Any], Any], strategy: Any) -> None:
        self.fn = fn
        self.strategy = strategy
        self.threads = ThreadBackend(self._through_strategy, strategy.workers or 1)
        self.slots = self.threads.slots

    def _through_strategy(self, items: list[Any]) -> Any:
        from conlab.model import Task

        (record,) = self.strategy.run([Task(run_chunk, (self.fn, items), name="chunk")]).records
        if not record.ok:
            raise RuntimeError(f"{self.strategy.name}: {record.error}")
        return record.result

    def submit(self, chunk: Chunk) -> None:
        self.threads.submit(Chunk(chunk.seq, chunk.start, 1, [chunk.items], attempts=-1))
        self._chunks = getattr(self, "_chunks", {})
        self._chunks[chunk.seq] = chunk

    def wait(self, timeout_s: float | None = None) -> list[Done]:
        out = []
        for done in self.threads.wait(timeout_s):
            chunk = self._chunks.pop(done.chunk.seq)
            values, errors = done.outcome[:2] if done.outcome else ([None], None)
            if errors:
                out.append(
                    Done(chunk, status="crashed", error=errors[0][1], where=self.strategy.name)
                )
            else:
                out.append(Done(chunk, values[0], where=self.strategy.name))
        return out

    def close(self, abort: bool) -> None:
        self.threads.close(abort)
