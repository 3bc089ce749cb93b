"""The engine's loop: read the input lazily, keep a bounded number of chunks in flight,
hand results back in order (or as they finish), and deal with failures and retries.

The iterator the user gets is ``itertools.chain.from_iterable`` over the lists
this loop yields, one per chunk: the loop runs once per chunk, and each result
costs the user's loop one step of a C iterator. A failed item ends its chunk's
list; the loop raises its exception when asked for the next list.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from conlab.engine.backends import Backend, Chunk, Done
from conlab.engine.chunks import (
    CRASHED,
    ERROR,
    ChunkSizer,
    ItemFailure,
    label,
    unpack_outcome,
)
from conlab.errors import format_error

log = logging.getLogger("conlab.map")


class Stream:
    """One ``conlab.map`` in progress."""

    def __init__(
        self,
        make_backend: Callable[[str], Backend],
        strategy: str,
        source: Iterator[Any],
        sizer_fixed: int | None,
        ordered: bool,
        retries: int,
        collect: bool,
        progress: bool,
    ) -> None:
        self.make_backend = make_backend
        self.strategy = strategy
        self.backend: Backend | None = None
        self.source = source
        self.sizer_fixed = sizer_fixed
        self.ordered = ordered
        self.retries = retries
        self.collect = collect
        self.progress = progress
        self.pulled = 0  # items read from the input so far
        self.yielded = 0  # items handed back so far
        self.failure: BaseException | None = None  # raised once the results before it are out

    def chunks(self) -> Generator[list[Any], None, None]:
        """The results, one list per chunk; the backend is released however iteration ends."""
        backend = None
        abort = True
        try:
            backend = self.backend = self.make_backend(self.strategy)
            yield from self._run(backend)
            abort = False
        finally:
            if backend is not None:
                backend.close(abort)

    def _run(self, backend: Backend) -> Iterator[list[Any]]:
        sizer = ChunkSizer(backend.target_s, backend.max_items, self.sizer_fixed)
        finished: dict[int, Done] = {}  # ordered: finished chunks waiting for their turn
        inflight = 0  # chunks submitted and not yet handed back
        next_seq = seq = 0
        exhausted = False
        shown_s = time.monotonic()
        while True:
            # Slots can grow as workers start: the cap on items in flight is shared among them.
            sizer.max_items = min(
                backend.max_items, backend.max_inflight_items // backend.slots or 1
            )
            while not exhausted and inflight < backend.slots:
                size = sizer.next_size()
                items = list(itertools.islice(self.source, size))
                if not items:
                    exhausted = True
                    break
                backend.submit(Chunk(seq, self.pulled, len(items), items))
                self.pulled += len(items)
                seq += 1
                inflight += 1
            if inflight == 0:
                if self.progress:
                    sys.stderr.write(f"\rconlab.map: {self.yielded} items done\n")
                return
            for done in backend.wait():
                if done.status == CRASHED and done.chunk.attempts < self.retries:
                    done.chunk.attempts += 1
                    log.info("%s; running its items again", done.error)
                    backend.submit(done.chunk)
                    continue
                times = done.times_ns()
                if times is not None:
                    sizer.observe(done.chunk.size, times[0])
                finished[done.chunk.seq] = done
            while finished:
                key = next_seq if self.ordered else next(iter(finished))
                done_now = finished.pop(key, None)
                if done_now is None:
                    break
                next_seq += 1
                inflight -= 1
                yield self._deliver(done_now)
                self._raise_failure()
                if self.progress and time.monotonic() - shown_s > 0.5:
                    shown_s = time.monotonic()
                    sys.stderr.write(f"\rconlab.map: {self.yielded} items done ")

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _deliver(self, done: Done) -> list[Any]:
        """The chunk's results; up to a failed item when raising, with failures in place when collecting."""
        chunk = done.chunk
        if done.status is not None:
            assert done.error is not None
            errors = [(k, done.error, format_error(done.error)) for k in range(chunk.size)]
            values: list[Any] = [None] * chunk.size
            status = done.status
        else:
            outcome = done.outcome
            if outcome is None:
                assert done.packed is not None
                outcome = unpack_outcome(done.packed)
            values, found = outcome[0], outcome[1]
            if not found:
                self.yielded += len(values)
                return values
            errors, status = found, ERROR
        for pos, exc, tb in errors:
            index = chunk.start + pos
            if not self.collect:
                self.yielded += pos
                self.failure = label(exc, index, done.where)
                return values[:pos]
            values[pos] = ItemFailure(index, status, exc, tb)
        self.yielded += len(values)
        return values
