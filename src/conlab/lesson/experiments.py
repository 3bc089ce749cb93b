"""The small experiments behind the lesson's table: each answers one cell, measured now.

Hashing a buffer (C code that releases the GIL), a list appended to by each
worker, a read-modify-write counter across threads with and without a Lock,
and the memory of a worker process and of a thread (the free-threaded row is
freethreaded.py's).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from typing import Any

from conlab._process.mainguard import main_not_imported_again
from conlab.model import Task, Workload

try:
    import psutil
except ImportError:  # pragma: no cover - bare interpreters
    psutil = None

RACE_THREADS, RACE_INCREMENTS = 4, 25


def hash_buffer(seed: int, size_mb: int, rounds: int) -> str:
    """sha256 over a distinct buffer, ``rounds`` times: C code that releases the GIL."""
    buf = bytes([seed % 256]) * (size_mb << 20)
    h = hashlib.sha256()
    for _ in range(rounds):
        h.update(buf)
    return h.hexdigest()


def hash_workload(tasks: int, size_mb: int, rounds: int) -> Workload:
    return Workload(
        name="hashlib",
        kind="cpu-nogil",
        description="hashlib.sha256 over a distinct buffer per task (releases the GIL)",
        params={"tasks": tasks, "size_mb": size_mb, "rounds": rounds},
        tasks=[Task(hash_buffer, (k, size_mb, rounds), name=f"sha256[{k}]") for k in range(tasks)],
    )


def append_to(shared: list[int], value: int) -> None:
    shared.append(value)


def race(threads: int = RACE_THREADS, increments: int = RACE_INCREMENTS, lock: bool = False) -> int:
    """Final value of a counter that ``threads`` threads each increment ``increments`` times.

    Without the lock, every thread reads the counter, then waits until all have
    read it (a barrier, standing in for the switch the OS may make at any
    moment between a read and a write), then writes what it read plus one: all
    but one update of each round are lost, every time. With the lock, the same
    read-modify-write is done under ``with lock:`` and a switch is still forced
    inside it (``time.sleep(0)``), yet no update is lost.
    """
    counter = [0]
    barrier = threading.Barrier(threads)
    guard = threading.Lock()

    def unsafe() -> None:
        for _ in range(increments):
            value = counter[0]
            barrier.wait()
            counter[0] = value + 1

    def safe() -> None:
        for _ in range(increments):
            with guard:
                value = counter[0]
                time.sleep(0)
                counter[0] = value + 1

    workers = [threading.Thread(target=safe if lock else unsafe) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return counter[0]


def shared_list(workers: int, start_method: str) -> tuple[int, int]:
    """How many of ``workers`` appends to the parent's list the parent sees: threads, processes."""
    seen_threads: list[int] = []
    threads = [threading.Thread(target=append_to, args=(seen_threads, k)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen_processes: list[int] = []
    ctx: Any = multiprocessing.get_context(start_method)
    procs = [ctx.Process(target=append_to, args=(seen_processes, k)) for k in range(workers)]
    try:
        with main_not_imported_again():
            for p in procs:
                p.start()
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
                p.join()
    return len(seen_threads), len(seen_processes)


def _own_memory() -> tuple[int, int | None]:
    """This process's RSS, and its USS (memory no other process shares) where psutil tells."""
    if psutil is None:
        from conlab.measure.tree import tree_rss_bytes

        return tree_rss_bytes(os.getpid(), [os.getpid()])[0], None
    proc = psutil.Process()
    try:
        full = proc.memory_full_info()
        return int(full.rss), int(full.uss)
    except psutil.Error:
        return int(proc.memory_info().rss), None


def report_memory(conn: Any) -> None:
    conn.send(_own_memory())
    conn.close()


def process_memory(workers: int, start_method: str) -> tuple[int, int | None]:
    """Median RSS and USS of ``workers`` child processes started with ``start_method``."""
    ctx: Any = multiprocessing.get_context(start_method)
    got: list[tuple[int, int | None]] = []
    procs = []
    try:
        for _ in range(workers):
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=report_memory, args=(child,))
            with main_not_imported_again():
                proc.start()
            child.close()
            procs.append((proc, parent))
        for _, parent in procs:
            if parent.poll(60):
                got.append(parent.recv())
    finally:
        for proc, parent in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
                proc.join()
            parent.close()
    rss = sorted(r for r, _ in got)
    uss = sorted(u for _, u in got if u is not None)
    return (rss[len(rss) // 2] if rss else 0), (uss[len(uss) // 2] if uss else None)


def thread_memory(workers: int) -> int:
    """RSS this process grows by per thread, with ``workers`` threads alive at once."""
    before = _own_memory()[0]
    stop = threading.Event()
    started = threading.Barrier(workers + 1)

    def idle() -> None:
        started.wait()
        stop.wait()

    threads = [threading.Thread(target=idle, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    started.wait()
    after = _own_memory()[0]
    stop.set()
    for t in threads:
        t.join()
    return max(0, (after - before) // workers)
