"""What each strategy costs on this machine before and around the work: start-up and dispatch.

Each strategy runs no-op tasks (three times, the fastest kept, when it starts no process;
once otherwise): its start-up (creating the pool, starting
the processes) and the wall time per no-op task (handing a task over and its
result back) are kept for the life of the process. For spawn and forkserver
children, the import of the task's module is timed apart, once per module, in
a fresh interpreter. The pipe's throughput prices the bytes a task ships.
"""

from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.connection
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conlab._process.mainguard import main_not_imported_again
from conlab.errors import format_error
from conlab.measure.environment import usable_cpus
from conlab.measure.share import machine_share

if TYPE_CHECKING:
    from conlab.strategies import Strategy

# The strategy registry is imported where a strategy is looked up or run, not with this module:
# conlab.map's auto choice uses the model (predict, profile) without loading every strategy.

# The prediction model's families: how a strategy is predicted, from the family it declares and
# whether it pools its workers. A strategy of another kind (OTHER) is listed, not predicted.
LOOP = "sequential"
THREAD_PER_TASK = "threads"
THREAD_POOL = "thread-pool"
PROCESS_PER_TASK = "processes"
PROCESS_POOL = "process-pool"
EVENT_LOOP = "async"
OTHER = "other"
NOOP_TASKS = {
    THREAD_PER_TASK: 16,
    THREAD_POOL: 40,
    PROCESS_PER_TASK: 2,
    PROCESS_POOL: 20,
    EVENT_LOOP: 40,
}
_PIPE_BYTES = 4 << 20
# Strategies that start no process are timed this many times over their no-op tasks.
REPEATS_IN_PROCESS = 3


def noop() -> None:
    """The task used to time a strategy's own costs."""


async def anoop() -> None:
    """The async no-op task, for the asyncio strategy."""


def family(name: str) -> str:
    """The prediction model's family of strategy ``name`` (OTHER: not predicted)."""
    from conlab.strategies import REGISTRY
    from conlab.strategies.base import ASYNCIO, PROCESSES, SEQUENTIAL, THREADS

    cls = REGISTRY.get(name)
    if cls is None:
        return OTHER
    if cls.pooled and cls.family in (THREADS, PROCESSES):
        return THREAD_POOL if cls.family == THREADS else PROCESS_POOL
    models = {
        SEQUENTIAL: LOOP,
        THREADS: THREAD_PER_TASK,
        PROCESSES: PROCESS_PER_TASK,
        ASYNCIO: EVENT_LOOP,
    }
    return models.get(cls.family, OTHER)


def start_methods(name: str) -> list[str | None]:
    from conlab.strategies import REGISTRY

    return REGISTRY[name].start_methods()


@dataclass(frozen=True)
class Costs:
    """One strategy's measured costs: start-up for ``workers`` workers, and per task."""

    strategy: str
    start_method: str | None
    workers: int
    startup_s: float
    per_task_s: float
    unavailable: str | None = None

    def startup_for(self, workers: int, cores: int) -> float:
        """Start-up of ``workers`` workers: they start in waves of one per core."""
        waves = -(-workers // max(1, cores))
        measured = -(-self.workers // max(1, cores))
        return self.startup_s * waves / measured


def _workers_for(fam: str, cores: int) -> int | None:
    if fam == THREAD_POOL:
        return 4
    if fam == PROCESS_POOL:
        return min(2, cores)
    return None


@functools.cache
def costs(name: str, start_method: str | None) -> Costs:
    """Run ``name`` over no-op tasks once (cached for this process) and keep its costs."""
    fam = family(name)
    cores = usable_cpus()
    workers = _workers_for(fam, cores)
    options: dict[str, Any] = {"start_method": start_method} if start_method else {}
    n = NOOP_TASKS.get(fam, 8)
    from conlab.model import Task
    from conlab.strategies import make

    try:
        strategy: Strategy = make(name, workers, **options)
        reason = strategy.unavailable_reason()
        if reason:
            return Costs(name, start_method, 1, 0.0, 0.0, unavailable=reason)
        fn = anoop if fam == EVENT_LOOP else noop
        with main_not_imported_again():
            execution = strategy.run([Task(fn, name="noop") for _ in range(n)])
        if not strategy.uses_processes:
            # Milliseconds each: timed again, the fastest kept (a busy machine only slows it).
            for _ in range(REPEATS_IN_PROCESS - 1):
                again = strategy.run([Task(fn, name="noop") for _ in range(n)])
                if again.wall_ns < execution.wall_ns:
                    execution = again
    except Exception as exc:
        why = format_error(exc)
        return Costs(name, start_method, 1, 0.0, 0.0, unavailable=f"could not be started: {why}")
    failed = [r for r in execution.records if not r.ok]
    if failed:
        return Costs(
            name, start_method, 1, 0.0, 0.0, unavailable=f"a no-op task failed: {failed[0].error}"
        )
    return Costs(
        strategy=name,
        start_method=start_method,
        workers=strategy.workers_for(n),
        startup_s=(execution.startup_ns or 0) / 1e9,
        per_task_s=execution.wall_ns / 1e9 / n,
    )


@functools.lru_cache(maxsize=1)
def pipe_bytes_per_s() -> float:
    """How fast bytes go through a multiprocessing pipe here (what process strategies ship on)."""
    reader, writer = multiprocessing.Pipe(duplex=False)
    chunk = b"\0" * _PIPE_BYTES
    got: list[int] = []

    def read() -> None:
        for _ in range(4):
            got.append(len(reader.recv_bytes()))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    for _ in range(4):
        writer.send_bytes(chunk)
    thread.join()
    elapsed = time.perf_counter() - t0
    reader.close()
    writer.close()
    return sum(got) / max(elapsed, 1e-9)


_IMPORT = (
    "import sys, time, importlib\n"
    "import conlab._process.child\n"
    "t = time.perf_counter()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(time.perf_counter() - t)\n"
)


@functools.cache
def import_s(module: str | None) -> float:
    """Time a fresh interpreter takes to import ``module`` (what a spawned worker pays), once."""
    if not module or module == "__main__" or module == "conlab" or module.startswith("conlab."):
        return 0.0
    root = module.split(".")[0]
    if root in sys.builtin_module_names or root in getattr(sys, "stdlib_module_names", ()):
        return 0.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _IMPORT, module],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        return float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else 0.0
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return 0.0


def clear() -> None:
    """Forget what was measured (for tests that change the machine's shape)."""
    machine_share.cache_clear()
    costs.cache_clear()
    pipe_bytes_per_s.cache_clear()
    import_s.cache_clear()
