"""conlab.map's strategy "auto": start the pool at once, measure the items on it, choose, and
change when the evidence does.

The first items run on conlab's process pool, which starts with the first
chunk: no item runs in the caller, nothing waits for a probe. Each finished
chunk brings back its wall and CPU time; while the first items still run, the
workers' CPU time is read from /proc (Linux). From these, the advice's task
profile and cost model (conlab.advice: profile.TaskProbe, predict.stream_plan,
words.stream_choice) choose between the process pool and a thread pool sized
from the measured wait fraction, and say why. Chunks already running finish
where they are; new ones go to the chosen pool; the engine hands results back
in order whatever ran them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conlab.engine.backends import Backend, Chunk, Done, ThreadBackend
from conlab.engine.chunks import load_items
from conlab.engine.pool import ProcessBackend, default_workers
from conlab.errors import UsageError

if TYPE_CHECKING:
    from conlab.advice.predict import Prediction
    from conlab.advice.profile import TaskProbe

PROCESSES, THREADS = "processes", "thread-pool"
OBSERVE_S = 0.005  # a running first item is judged on this long a look
# A look's baseline is taken once the item has run this long: before it, the worker is still
# taking the chunk in, and 0.15 ms of that CPU in a 5 ms look made waiting items 3 % CPU, and
# auto sized 30 threads where 200 items that only sleep wanted 200 (grown only as items ended).
SETTLE_NS = 1_000_000
CONFIRM_S = 0.001  # a look that found the items waiting is confirmed this soon
LOOK_FIRST_S, LOOK_MAX_S = 0.0005, 0.02  # looks at the first items: often, then less
ENOUGH_NS = 2_000_000  # finished work (wall time less run-queue time, summed) worth a choice
RECHECK_S = 0.1  # after the first choice, the evidence is weighed again this often
MIN_CHANGE_S = 0.001  # on threads, CPU per item that must double to measure on processes again


@dataclass(frozen=True)
class Choice:
    """What auto runs the items on, and why, in the words of ``conlab advise``."""

    strategy: str
    workers: int
    reason: str
    profile: TaskProbe | None = None

    def __str__(self) -> str:
        return self.reason


class _Evidence:
    """Finished chunks of one pool since it was chosen: items, wall and CPU time."""

    def __init__(self) -> None:
        self.items = self.wall_ns = self.cpu_ns = self.runqueue_ns = 0
        self.since_s = time.monotonic()
        self.parent_cpu_ns = time.process_time_ns()  # this process's CPU time at the start

    def parent_s(self) -> float:
        """This process's CPU time since, per finished item: on a machine with no core to spare,
        as much of the workers' wait for a CPU may be this process's doing (auto's own: the
        model's import, the looks; a CLI's reading and writing; the caller's other work), not
        other programs'."""
        return (time.process_time_ns() - self.parent_cpu_ns) / 1e9 / max(self.items, 1)

    def add(self, items: int, wall_ns: int, cpu_ns: int, runqueue_ns: int) -> None:
        self.items += items
        self.wall_ns += wall_ns
        self.cpu_ns += cpu_ns
        self.runqueue_ns += min(runqueue_ns, wall_ns)

    @property
    def own_ns(self) -> int:
        """Wall time the items had a CPU when they wanted one."""
        return self.wall_ns - min(self.runqueue_ns, self.wall_ns)


def _sleeping(pid: int) -> bool:
    """Whether the process is asleep or blocked now (state S or D), not running or runnable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] in (b"S", b"D")
    except (OSError, IndexError):
        return False


def _schedstat_ns(pid: int) -> tuple[int, int] | None:
    """A process's time on a CPU and time waiting for one, in ns (Linux; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            on_cpu, waiting, _ = f.read().split()
        return int(on_cpu), int(waiting)
    except (OSError, ValueError):
        return None


def _load_model() -> None:
    """The advice's model, which the first choice needs (tens of ms to import)."""
    import conlab.advice.predict
    import conlab.advice.profile
    import conlab.advice.words  # noqa: F401


class AutoBackend(Backend):
    """The process pool first, measured as it runs; then the pool the cost model predicts faster."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        workers: int | None,
        max_threads: int | None,
        start_method: str | None,
        announce: Callable[[Choice, bool], None],
        timeout_s: float | None = None,
    ) -> None:
        from conlab.measure.environment import usable_cpus

        self.fn = fn
        self.start_method = start_method
        self.fixed = timeout_s is not None  # a timeout needs processes: nothing to choose
        self.cores = usable_cpus()
        self.process_workers = workers or default_workers()
        self.max_threads_set = max_threads or workers  # None: the model's bound
        self.announce = announce
        self.choice: Choice | None = None
        self.choices: list[Choice] = []
        self.where: dict[int, Backend] = {}  # chunk seq -> the backend running it
        self.inflight: dict[Backend, int] = {}
        self.retired: list[Backend] = []
        self.evidence = _Evidence()
        self.looked: dict[int, tuple[int, int, int, int]] = {}  # pid -> start, t, cpu, wait
        self.checked_s = 0.0
        self.recheck_now = False
        self.looks = self.io_looks = 0
        self.threads_only = False  # the function cannot be sent to a process
        self.look_s = OBSERVE_S
        self.model_loaded = False
        self.current: Backend
        try:
            self.current = ProcessBackend(fn, self.process_workers, start_method, timeout_s)
        except UsageError as exc:  # the function cannot go to another process
            if self.fixed:
                raise
            # Threads from the start, as many as thread-pool's default; the evidence sizes them.
            self.threads_only = True
            self.current = ThreadBackend(fn, min(self.max_threads, self.cores + 4))
            self._say(Choice(THREADS, self.current.workers, f"{self._described()}: {exc}"))
        else:
            if self.fixed:
                reason = f"{self._described()}: a timeout needs workers that can be stopped"
                self._say(Choice(PROCESSES, self.process_workers, reason))
        self.current.queued = True
        self.inflight[self.current] = 0
        self._sync()

    @property
    def max_threads(self) -> int:
        if self.max_threads_set is not None:
            return self.max_threads_set
        from conlab.advice.predict import MAX_THREADS

        return MAX_THREADS

    @property
    def strategy(self) -> str:
        return PROCESSES if isinstance(self.current, ProcessBackend) else THREADS

    def _sync(self) -> None:
        cur = self.current
        self.slots = cur.slots + sum(n for b, n in self.inflight.items() if b is not cur)
        self.target_s, self.max_items = cur.target_s, cur.max_items
        self.max_inflight_items = cur.max_inflight_items

    def submit(self, chunk: Chunk) -> None:
        if chunk.items is None and chunk.payload is not None and not self._is_processes():
            chunk.items = load_items(chunk.payload)[0]  # a retried chunk, now for threads
        if chunk.payload is None and not self.fixed and isinstance(self.current, ProcessBackend):
            try:
                chunk.payload = self.current.pack_items(chunk.items)
                chunk.items = None
            except UsageError as exc:  # an item cannot go to another process: threads can
                self._threads_for_good(str(exc))
        self.where[chunk.seq] = self.current
        self.inflight[self.current] += 1
        self.current.submit(chunk)
        self._sync()

    def _is_processes(self) -> bool:
        return isinstance(self.current, ProcessBackend)

    def wait(self, timeout_s: float | None = None) -> list[Done]:
        active = [b for b, n in self.inflight.items() if n > 0]
        if self.choice is None and not self.model_loaded and self._all_started():
            if self._is_processes():
                self._look_at_running()  # the first look's baseline, before the import
            _load_model()  # while the first items run, not after they end
            self.model_loaded = True
        if len(active) == 1:
            step = timeout_s
            if self.choice is None and self._is_processes():
                step = self._next_look_s()
            done = active[0].wait(step)
        else:  # a pool left behind still finishes its chunks: look at both in turn
            done = [d for b in active for d in b.wait(0.0005)]
        for d in done:
            backend = self.where.pop(d.chunk.seq)
            self.inflight[backend] -= 1
            times = d.times_ns()
            if backend is self.current and d.status is None and times is not None:
                self.evidence.add(d.chunk.size, *times)
        self._release_drained()
        self._weigh()
        self._sync()
        return done

    def _threads_for_good(self, why: str) -> None:
        """What cannot be sent to a process runs on threads from now on (chunks a process
        already runs finish there)."""
        described = self._described()
        self.threads_only = True
        threads = ThreadBackend(self.fn, min(self.max_threads, self.cores + 4))
        self._move_to(threads)
        self._say(Choice(THREADS, threads.workers, f"{described}: {why}"))

    def _all_started(self) -> bool:
        cur = self.current
        return not isinstance(cur, ProcessBackend) or len(cur.workers) >= cur.n_workers

    def _next_look_s(self) -> float:
        """Look often until a first item runs on a ready worker, once more when it has run
        for OBSERVE_S, then less and less often (computing items are judged when they end)."""
        if not self.looked:
            return LOOK_FIRST_S
        if self.io_looks == 1:
            return CONFIRM_S  # a look said waiting: the next one confirms it (asleep again?)
        self.looks += 1
        if self.looks <= 2:
            return OBSERVE_S
        self.look_s = min(2 * self.look_s, LOOK_MAX_S)
        return self.look_s

    def _release_drained(self) -> None:
        """A pool left behind whose last chunk is back: its workers go (reaped at close)."""
        for backend, n in list(self.inflight.items()):
            if n == 0 and backend is not self.current:
                del self.inflight[backend]
                backend.retire()
                self.retired.append(backend)

    # --- choosing -------------------------------------------------------------------------

    def _described(self) -> str:
        n = self.process_workers if self._is_processes() else getattr(self.current, "workers", 1)
        return f"{self.strategy} with {n} worker{'s' if n != 1 else ''}"

    def _weigh(self) -> None:
        """Choose from the evidence, or change when it says the other pool is faster."""
        ev = self.evidence
        if self.fixed:
            return
        if self.choice is None:
            if ev.own_ns >= ENOUGH_NS:
                own_s = ev.parent_s() if self._is_processes() else 0.0  # threads share its CPU
                self._choose(self._measured(ev), running=False, own_s=own_s)
            elif self._is_processes():
                self._look_at_running()
            return
        if ev.own_ns < ENOUGH_NS:
            return
        if time.monotonic() - self.checked_s < RECHECK_S and not self.recheck_now:
            return
        self.recheck_now = False
        self.checked_s = time.monotonic()
        self.evidence = _Evidence()  # each check weighs what was measured since the last one
        if self._is_processes():
            self._choose(self._measured(ev), running=False, own_s=ev.parent_s())
        else:
            self._weigh_threads(ev)

    def _weigh_threads(self, ev: _Evidence) -> None:
        """On threads, an item's wall time includes waiting for the GIL: it understates how
        much of an item computes, its CPU time does not. When each item computes twice what
        it did when last measured on processes (and at least MIN_CHANGE_S), the items are
        measured on processes again; otherwise the thread count follows the evidence."""
        was = self.choice.profile if self.choice is not None else None
        cpu_per_item_s = ev.cpu_ns / max(ev.items, 1) / 1e9
        grew = was is not None and cpu_per_item_s >= 2 * max(was.cpu_s, MIN_CHANGE_S)
        if grew and self.cores >= 2:
            profile = self._profile(ev.items, ev.cpu_ns, ev.cpu_ns, 0)
            self._choose(profile, running=False, force=PROCESSES)
            return
        self._choose(self._measured(ev), running=False, only=THREADS)

    def _look_at_running(self) -> None:
        """The first items' CPU time while they run (a waiting item shows at once)."""
        assert isinstance(self.current, ProcessBackend)
        now_ns = time.perf_counter_ns()
        items = wall = cpu = wait = 0
        asleep = True
        for pid, running_ns in self.current.running():
            stat = _schedstat_ns(pid)
            if stat is None:
                return
            if running_ns < SETTLE_NS:
                continue  # the chunk's own start (unpickling, clocks) is not the item's work
            start_ns = now_ns - running_ns
            seen = self.looked.get(pid)
            if seen is None or abs(seen[0] - start_ns) > 1_000_000:  # a new chunk: look anew
                self.looked[pid] = (start_ns, now_ns, *stat)
                continue
            if now_ns - seen[1] >= OBSERVE_S * 1e9:
                asleep = asleep and _sleeping(pid)
                items += 1
                wall += now_ns - seen[1]
                cpu += stat[0] - seen[2]
                wait += stat[1] - seen[3]
        if items and wall - wait >= items * OBSERVE_S * 1e9:
            profile = self._profile(items, wall, cpu, wait)
            # A worker still starting (spawn) computes while it imports, a busy machine
            # blurs the rest: only items that plainly wait (the profile's kind "io") decide
            # here; anything else is decided by the first finished chunks.
            # Two looks in a row must agree, and find the workers asleep: a virtual CPU the
            # host gives to others shows neither as CPU time nor as run-queue time.
            waiting = profile.kind == "io" and asleep
            self.io_looks = self.io_looks + 1 if waiting else 0
            if self.io_looks >= 2:
                self._choose(profile, running=True, only=THREADS)

    def _measured(self, ev: _Evidence) -> TaskProbe:
        runqueue_ns = min(ev.runqueue_ns, ev.wall_ns)
        return self._profile(ev.items, ev.wall_ns, ev.cpu_ns, runqueue_ns)

    def _profile(self, items: int, wall_ns: int, cpu_ns: int, wait_ns: int) -> TaskProbe:
        from conlab.advice.profile import TaskProbe

        per = 1e9 * items
        return TaskProbe.of_items(items, wall_ns / per, cpu_ns / per, wait_ns / per, self.cores)

    def _choose(
        self,
        profile: TaskProbe,
        running: bool,
        only: str | None = None,
        force: str | None = None,
        own_s: float = 0.0,
    ) -> None:
        from conlab.advice import predict, words

        chosen, other = predict.stream_plan(profile, self.process_workers, self.max_threads)
        if self.threads_only:
            force = THREADS
        if force is not None and chosen.strategy != force:
            chosen, other = other, chosen
        if only is not None and chosen.strategy != only:
            return
        reason = words.stream_choice(profile, chosen, other, running, self.max_threads, own_s)
        choice = Choice(chosen.strategy, chosen.workers, reason, profile)
        more_threads = chosen.strategy == THREADS == self.strategy and chosen.workers > getattr(
            self.current, "workers", 0
        )
        if chosen.strategy != self.strategy or more_threads:
            self._switch(chosen)
        if self.choice is None or chosen.strategy != self.choice.strategy:
            self._say(choice)
        elif more_threads:  # the same choice, sized anew: on .advice, not said again
            self.choice = choice
            self.choices.append(choice)

    def _switch(self, chosen: Prediction) -> None:
        if chosen.strategy == THREADS:
            # Threads are judged by their CPU time against the GIL, not by run-queue time.
            self._move_to(ThreadBackend(self.fn, chosen.workers))
        else:
            backend = ProcessBackend(self.fn, self.process_workers, self.start_method)
            backend.queued = True
            self._move_to(backend)

    def _move_to(self, backend: Backend) -> None:
        """New chunks go to ``backend``; the pool left behind finishes what it runs."""
        self.current = backend
        self.inflight[backend] = 0
        self.evidence = _Evidence()
        self.recheck_now = True  # the new pool's first finished chunks are weighed at once
        self._take_back()
        self._release_drained()

    def _take_back(self) -> None:
        """Chunks a process pool left behind has not started yet go to the new pool: one
        item that waits an item's time for a worker holds back every result after it."""
        for backend in list(self.inflight):
            if backend is self.current or not isinstance(backend, ProcessBackend):
                continue
            for chunk in backend.take_back():
                self.inflight[backend] -= 1
                del self.where[chunk.seq]
                self.submit(chunk)

    def _say(self, choice: Choice) -> None:
        self.choice = choice
        self.choices.append(choice)
        self.checked_s = time.monotonic()
        self.announce(choice, len(self.choices) > 1)

    def close(self, abort: bool) -> None:
        ev = self.evidence
        if self.choice is None and not abort:
            from conlab.measure.units import duration

            reason = (
                f"{self._described()}: the input ended after {ev.items} item"
                f"{'s' if ev.items != 1 else ''}, before {duration(ENOUGH_NS / 1e9)} of work "
                "was measured to choose from"
            )
            self._say(Choice(self.strategy, self.process_workers, reason))
        for backend in [*self.inflight, *self.retired]:
            backend.close(abort)
        self.inflight.clear()
        self.retired.clear()
