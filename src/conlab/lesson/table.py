"""``conlab explain``: the lesson's threads-vs-processes table, every cell measured now.

The lesson ends with a table and a rule of thumb ("threads for waiting,
processes for heavy computation"). Here each cell is a measurement made on
this machine: speed-ups of pure-Python computing, waiting and hashing (C code
that releases the GIL) in threads and in processes; a list appended to by each
worker; an unsynchronised counter across threads, with and without a Lock;
memory per worker; start-up per start method; and, on a free-threaded
interpreter, pure Python in threads. The rule of thumb is then stated as
measured here. A cell is drawn only from runs that had the cores they asked
for: where a run stayed contended (measure/contention.py), the cell says
"not shown" and what the machine gave, instead of a Yes or No the machine made.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from typing import Any

from conlab._process.crashes import resolve_start_method
from conlab.lab.compare import Progress, compare
from conlab.lesson import freethreaded
from conlab.lesson.experiments import (
    RACE_INCREMENTS,
    RACE_THREADS,
    hash_workload,
    process_memory,
    race,
    shared_list,
    thread_memory,
)
from conlab.measure import contention
from conlab.measure.environment import gil_enabled, usable_cpus
from conlab.measure.units import duration, size
from conlab.model import RUN_OK, Comparison, Run
from conlab.strategies import ProcessPoolStrategy, ThreadPoolStrategy
from conlab.workloads import build

# The table's two columns, each measured as a pool of its kind.
THREAD_POOL = ThreadPoolStrategy.name
PROCESS_POOL = ProcessPoolStrategy.name


@dataclass
class Sizes:
    cpu_size: float
    sleep_s: float
    hash_mb: int
    hash_rounds: int
    repeats: int
    warmup: int


FULL = Sizes(cpu_size=0.3, sleep_s=0.05, hash_mb=8, hash_rounds=4, repeats=3, warmup=1)
QUICK = Sizes(cpu_size=0.15, sleep_s=0.01, hash_mb=4, hash_rounds=3, repeats=1, warmup=1)


@dataclass
class Row:
    """One question of the table: what threads and processes showed, in words with the figure."""

    question: str
    threads: str
    processes: str
    how: str = ""


@dataclass
class Lesson:
    rows: list[Row]
    extra: list[Row]
    rule: str
    runs: dict[str, Comparison]
    figures: dict[str, Any] = field(default_factory=dict)

    def comparisons(self) -> list[Comparison]:
        """What a result file keeps: the comparisons behind the table, the table as notes."""
        out = list(self.runs.values())
        if out:
            notes = [note_of(r) for r in self.rows + self.extra]
            out[0].notes.extend([*notes, RULE_NOTE + self.rule])
        return out


# How a result file keeps the table: one note per row, then the rule of thumb.
THREADS_NOTE, PROCESSES_NOTE = " | threads: ", " | processes: "
RULE_NOTE = "Rule of thumb, as measured here: "


def note_of(row: Row) -> str:
    return f"{row.question}{THREADS_NOTE}{row.threads}{PROCESSES_NOTE}{row.processes}"


def row_of(note: str) -> Row | None:
    """The table's row a note holds (see note_of); None for any other note."""
    question, sep, rest = note.partition(THREADS_NOTE)
    threads, sep2, processes = rest.rpartition(PROCESSES_NOTE)
    return Row(question, threads, processes) if sep and sep2 else None


# --- measuring and phrasing ---------------------------------------------------------------


def _speedup(c: Comparison, strategy: str) -> float | None:
    """The run's speed-up; None when it failed or stayed contended (see _withheld)."""
    try:
        run = c.run(strategy)
    except KeyError:
        return None
    return run.speedup if run.status == RUN_OK and not run.speedup_contended else None


def _withheld(c: Comparison, strategy: str) -> str | None:
    """``not shown: the machine gave ...`` when the run or its reference stayed contended."""
    try:
        run = c.run(strategy)
    except KeyError:
        return None
    if run.status != RUN_OK or not run.speedup_contended:
        return None
    ref = c.reference
    busy = run if run.contended or ref is None else ref
    return f"not shown: {contention.summary(busy.machine)}"


def _run(c: Comparison, strategy: str) -> Run:
    return c.run(strategy)


def _x(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}×"


def _ms(seconds: float) -> str:
    """A start-up in milliseconds: whole ones from 10 ms, tenths below."""
    return duration(seconds, "ms", 0 if seconds >= 0.01 else 1)


def _part(part: str, letter: str) -> str:
    return f"{part}{letter}. " if part else ""


def measure(
    quick: bool = False,
    start_method: str | None = None,
    progress: Progress | None = None,
    repeats: int | None = None,
    warmup: int | None = None,
    part: str = "",
) -> Lesson:
    """Measure every cell of the lesson's table on this machine, now.

    ``part`` numbers the comparisons behind it as a part of the demo (4a, 4b, ...); the
    standalone explain numbers nothing."""
    from conlab.advice.calibrate import costs

    sizes = QUICK if quick else FULL
    reps = sizes.repeats if repeats is None else repeats
    warm = sizes.warmup if warmup is None else warmup
    method = resolve_start_method(start_method)
    cores = usable_cpus()
    k = min(max(2, cores), 8)

    def pair() -> list[Any]:
        return [ThreadPoolStrategy(k), ProcessPoolStrategy(k, start_method=method)]

    computing = compare(
        build("cpu", tasks=2 * k, size=sizes.cpu_size),
        pair(),
        reps,
        warm,
        progress=progress,
        title=f"{_part(part, 'a')}The lesson's table: pure-Python computing, {k} workers",
    )
    waiting = compare(
        build("seed", sleep_s=sizes.sleep_s),
        [ThreadPoolStrategy(2), ProcessPoolStrategy(2, start_method=method)],
        reps,
        warm,
        progress=progress,
        title=f"{_part(part, 'b')}The lesson's table: waiting work (the seed workload), 2 workers",
    )
    hashing = compare(
        hash_workload(2 * k, sizes.hash_mb, sizes.hash_rounds),
        pair(),
        reps,
        warm,
        progress=progress,
        title=f"{_part(part, 'c')}The lesson's table: hashlib.sha256 (C code that releases the "
        f"GIL), {k} workers",
    )
    lost = RACE_THREADS * RACE_INCREMENTS - race()
    lost_locked = RACE_THREADS * RACE_INCREMENTS - race(lock=True)
    seen_t, seen_p = shared_list(k, method)
    rss, uss = process_memory(k, method)
    per_thread = thread_memory(k)
    startups = {
        m: costs(PROCESS_POOL, m).startup_s for m in multiprocessing.get_all_start_methods()
    }
    thread_startup = costs(THREAD_POOL, None).startup_s
    figures: dict[str, Any] = {
        "workers": k,
        "cores": cores,
        "start_method": method,
        "cpu_speedup": {
            "threads": _speedup(computing, THREAD_POOL),
            "processes": _speedup(computing, PROCESS_POOL),
        },
        "cpu_parallelism": {
            "threads": _parallelism(computing, THREAD_POOL),
            "processes": _parallelism(computing, PROCESS_POOL),
        },
        "wait_speedup": {
            "threads": _speedup(waiting, THREAD_POOL),
            "processes": _speedup(waiting, PROCESS_POOL),
        },
        "hash_speedup": {
            "threads": _speedup(hashing, THREAD_POOL),
            "processes": _speedup(hashing, PROCESS_POOL),
        },
        "race": {
            "updates": RACE_THREADS * RACE_INCREMENTS,
            "lost": lost,
            "lost_with_lock": lost_locked,
        },
        "shared_list": {"appends": k, "threads": seen_t, "processes": seen_p},
        "memory": {"process_rss_bytes": rss, "process_uss_bytes": uss, "thread_bytes": per_thread},
        "startup_s": {THREAD_POOL: thread_startup, **startups},
        "gil_enabled": gil_enabled(),
        # Why a cell is not shown: its run (or the reference) stayed contended.
        "withheld": {
            name: {
                "threads": _withheld(c, THREAD_POOL),
                "processes": _withheld(c, PROCESS_POOL),
            }
            for name, c in (("cpu", computing), ("wait", waiting), ("hash", hashing))
        },
    }
    if gil_enabled():
        # The same pure Python under a free-threaded build and its GIL peer, when found.
        figures["free_threaded"] = freethreaded.measure(sizes.cpu_size, reps, warm)
    rows, extra = _rows(figures, computing)
    return Lesson(
        rows,
        extra,
        rule_of_thumb(figures),
        {"computing": computing, "waiting": waiting, "hashing": hashing},
        figures,
    )


def _parallelism(c: Comparison, strategy: str) -> float | None:
    run = _run(c, strategy)
    return None if run.speedup_contended else run.parallelism


def _parallel(par: float | None, speedup: float | None, what: str, withheld: str | None) -> str:
    if withheld:
        return withheld
    if par is None:
        return "failed"
    answer = "Yes" if par >= 1.3 else "No"
    return f"{answer}: CPU/wall {par:.2f} with {what} ({_x(speedup)} on pure Python)"


def _best_for(wait: float | None, cpu: float | None, withheld: str | None = None) -> str:
    if withheld:
        return withheld
    w, c = wait or 0.0, cpu or 0.0
    if w >= 1.3 and c >= 1.3:
        best = "both"
    elif w >= 1.3:
        best = "waiting"
    elif c >= 1.3:
        best = "computing"
    else:
        best = "neither here"
    return f"{best}: {_x(wait)} on waiting work, {_x(cpu)} on computing"


def _rows(f: dict[str, Any], computing: Comparison) -> tuple[list[Row], list[Row]]:
    k = f["workers"]
    sp, par = f["cpu_speedup"], f["cpu_parallelism"]
    race_f, shared, mem = f["race"], f["shared_list"], f["memory"]
    held = f["withheld"]
    seq = computing.reference
    seq_s = seq.median_wall_s if seq is not None else None
    t_run, p_run = computing.run(THREAD_POOL), computing.run(PROCESS_POOL)

    def cpu_speed(run: Run, speedup: float | None, withheld: str | None, then: str = "") -> str:
        if withheld:
            return withheld
        if run.median_wall_s is None or seq_s is None:
            return "failed"
        here = duration(run.median_wall_s, "s")
        return f"{_x(speedup)}: {duration(seq_s, 's')} sequential, {here} here{then}"

    uss = (
        f", {size(mem['process_uss_bytes'])} of it its own (USS)"
        if mem["process_uss_bytes"]
        else ""
    )
    rows = [
        Row(
            "Runs truly parallel?",
            _parallel(par["threads"], sp["threads"], f"{k} threads", held["cpu"]["threads"]),
            _parallel(
                par["processes"], sp["processes"], f"{k} processes", held["cpu"]["processes"]
            ),
            "the cpu workload",
        ),
        Row(
            "Shares memory?",
            f"{'Yes' if shared['threads'] == shared['appends'] else 'Partly'}: the parent's list got {shared['threads']} of {shared['appends']} appends",
            f"{'No' if shared['processes'] == 0 else 'Partly'}: {shared['processes']} of {shared['appends']} appends reached the parent",
            "each worker appends to a list of the parent",
        ),
        Row(
            "Best for",
            _best_for(
                f["wait_speedup"]["threads"],
                sp["threads"],
                held["wait"]["threads"] or held["cpu"]["threads"],
            ),
            _best_for(
                f["wait_speedup"]["processes"],
                sp["processes"],
                held["wait"]["processes"] or held["cpu"]["processes"],
            ),
            "speed-ups on the seed and cpu workloads",
        ),
        Row(
            "Risk",
            f"race conditions: {race_f['lost']} of {race_f['updates']} updates lost without a lock, {race_f['lost_with_lock']} with one",
            f"memory: {size(mem['process_rss_bytes'])} per worker (RSS{uss}), against {size(mem['thread_bytes'])} per thread",
            f"{RACE_THREADS} threads × {RACE_INCREMENTS} read-modify-writes, a switch forced between read and write",
        ),
        Row(
            "Speed for CPU tasks",
            cpu_speed(t_run, sp["threads"], held["cpu"]["threads"]),
            cpu_speed(
                p_run,
                sp["processes"],
                held["cpu"]["processes"],
                f" (+{_ms(p_run.median_startup_s or 0)} start-up)",
            ),
            "the cpu workload",
        ),
    ]
    hs = f["hash_speedup"]
    st = f["startup_s"]
    methods = ", ".join(f"{m} {_ms(s)}" for m, s in st.items() if m != THREAD_POOL)
    extra = [
        Row(
            "C code that releases the GIL (hashlib)",
            held["hash"]["threads"] or _best_for_hash(hs["threads"]),
            held["hash"]["processes"] or _best_for_hash(hs["processes"]),
            "sha256 over a distinct buffer per task",
        ),
        Row(
            "Start-up (a pool, measured on no-op tasks)",
            f"{_ms(st['thread-pool'])} for 4 threads",
            methods + " for 2 processes",
            "each start method",
        ),
        Row(
            "Pure Python in threads, free-threaded build",
            _free_threaded_cell(f, sp["threads"]),
            "—",
            "the cpu workload in 2 threads under each build, sequential beside it",
        ),
    ]
    return rows, extra


def _best_for_hash(speedup: float | None) -> str:
    if speedup is None:
        return "failed"
    return f"{'parallel' if speedup >= 1.3 else 'not parallel'}: {_x(speedup)}"


def _free_threaded_cell(f: dict[str, Any], threads_speedup: float | None) -> str:
    if not f["gil_enabled"]:
        return f"GIL disabled here: pure Python {_x(threads_speedup)} in threads"
    return freethreaded.cell(f.get("free_threaded"))


def rule_of_thumb(f: dict[str, Any]) -> str:
    """The lesson's rule of thumb, restated from what was measured here (and only from runs
    that were not contended: the others are named as not shown)."""
    w, c, h = f["wait_speedup"], f["cpu_speedup"], f["hash_speedup"]
    held = f.get("withheld", {})

    def hidden(what: str) -> str | None:
        pair = held.get(what) or {}
        return pair.get("processes") or pair.get("threads")

    st = f["startup_s"]
    fastest = min((m for m in st if m != THREAD_POOL), key=lambda m: st[m])
    slowest = max((m for m in st if m != THREAD_POOL), key=lambda m: st[m])
    if hidden("wait"):
        parts = [f"waiting work: {hidden('wait')}"]
    else:
        parts = [f"threads for waiting ({_x(w['threads'])}, processes {_x(w['processes'])})"]
    if not hidden("hash") and (h["threads"] or 0) >= 1.3:
        parts.append(f"threads also for C code that releases the GIL (hashlib {_x(h['threads'])})")
    if hidden("cpu"):
        parts.append(f"pure-Python computing: {hidden('cpu')}")
    elif not f["gil_enabled"] and (c["threads"] or 0) >= 1.3:
        parts.append(
            f"threads for pure Python too on this free-threaded build ({_x(c['threads'])})"
        )
    if hidden("cpu"):
        pass
    elif (c["processes"] or 0) >= 1.3:
        parts.append(
            f"processes for pure-Python computing ({_x(c['processes'])} against {_x(c['threads'])} in threads), "
            f"when each task outweighs the start-up ({fastest} {_ms(st[fastest])}, {slowest} {_ms(st[slowest])} for a pool of 2)"
        )
    else:
        parts.append(
            f"nothing speeds up pure-Python computing on {f['cores']} core(s) here ({_x(c['processes'])} in processes)"
        )
    ft_rule = freethreaded.rule(f.get("free_threaded")) if f["gil_enabled"] else None
    parts += [ft_rule] if ft_rule else []
    text = "; ".join(parts) + "."
    par = f["cpu_parallelism"]["processes"]
    if f["cores"] >= 2 and par is not None and par < 1.3:
        text += (
            f" With {f['cores']} usable cores, a CPU/wall of {par:.2f} in processes means the "
            "machine did not run them at once (a virtual machine's CPUs taking turns, or other "
            "programs): run again when it can."
        )
    return text
