"""A comparison in one sentence: the fastest valid run, its speed-up, and what the work measured as.

Every renderer (terminal, Markdown, HTML, notebook) shows this sentence with the table,
so that a reader who reads nothing else still reads what the figures say.
"""

from __future__ import annotations

from dataclasses import dataclass

from conlab.measure.units import duration
from conlab.measure.workkind import COMPUTING_ABOVE, THREADS_PARALLEL, WAITING_BELOW
from conlab.measure.workkind import THREADED as _THREADED
from conlab.model import RUN_FAILED, RUN_OK, Comparison, Run

# The thresholds are measure/workkind's, so that this sentence and Comparison.measured_kind
# (the heading's label) always agree.
_TIED_NAMED = 2


@dataclass(frozen=True)
class Kind:
    """What the measurement says about the work: its kind, the figures behind it, the advice."""

    name: str  # waiting, computing, computing-parallel, mixed, unmeasured
    evidence: str  # "CPU 1 % of wall", "CPU 99 % of wall; threads 0.98×"
    advice: str  # "threads or asyncio; processes add start-up for nothing"


def _percent(share: float) -> str:
    return "<1 %" if 0 < share < 0.005 else f"{share:.0%}".replace("%", " %")


def _best_threads(c: Comparison) -> Run | None:
    """The best threaded run that had its cores: a starved one says nothing about the GIL."""
    threaded = [r for r in c.runs if r.strategy in _THREADED and _valid(r)]
    return max(
        (r for r in threaded if not r.speedup_contended),
        key=lambda r: r.speedup or 0.0,
        default=None,
    )


def _threads_starved(c: Comparison) -> bool:
    return any(r.strategy in _THREADED and _valid(r) and r.speedup_contended for r in c.runs)


# CPU/wall of the sequential run above which one task at a time used more than a core.
OWN_THREADS_ABOVE = 1.2


def measured_kind(c: Comparison) -> Kind:
    """The work's kind from the sequential run's CPU/wall and from how threads did."""
    ref = c.reference
    share = ref.parallelism if ref is not None else None
    if share is None:
        return Kind("unmeasured", f"no valid sequential run; declared {c.kind}", "")
    evidence = f"CPU {_percent(share)} of wall"
    if ref is not None and (ref.contended or ref.speedup_contended) and share >= WAITING_BELOW:
        # A starved run's CPU/wall is lowered by the wait for a core: not the work's own.
        return Kind("unmeasured", f"{evidence}, measured while the machine was busy", "")
    if share < WAITING_BELOW:
        return Kind("waiting", evidence, "threads or asyncio; processes add start-up for nothing")
    threads = _best_threads(c)
    if threads is not None and threads.speedup is not None:
        evidence += f"; {run_label(threads)} {threads.speedup:.2f}×"
    if share <= COMPUTING_ABOVE:
        return Kind(
            "mixed", evidence, "it both waits and computes: compare threads and processes above"
        )
    if share >= OWN_THREADS_ABOVE:
        # One task at a time kept more than a core busy: its code runs threads of its own
        # (BLAS, numexpr, numba), so more workers share the same cores.
        return Kind(
            "computing",
            evidence,
            "it already runs threads of its own (BLAS and the like): more workers share the "
            "same cores; a plain loop is hard to beat",
        )
    if threads is not None and (threads.speedup or 0.0) >= THREADS_PARALLEL:
        return Kind(
            "computing-parallel",
            evidence,
            "threads run it in parallel (C code releasing the GIL, or no GIL): threads suffice",
        )
    if threads is not None:
        held = "threads gain nothing under the GIL"
    elif _threads_starved(c):
        held = "the threads' run was starved of cores, so it shows nothing here"
    else:
        held = "threads share one GIL"
    return Kind("computing", evidence, f"processes or interpreters; {held}")


def strategy_label(run: Run) -> str:
    """``process-pool/spawn``; ``processes/spawn, plain`` for the lesson's code as written."""
    return run.shown_strategy


def run_label(run: Run) -> str:
    """``process-pool/spawn:2``: the strategy as the tables name it, with its workers."""
    return run.shown_label


def _valid(run: Run) -> bool:
    return run.status == RUN_OK and run.speedup is not None and run.median_wall_s is not None


def _interval(run: Run) -> str:
    if run.speedup_ci is None or len(run.wall_s) < 2:
        return ""
    lo, hi = run.speedup_ci
    return f" ({lo:.2f}–{hi:.2f})"


def _tied(fastest: Run, others: list[Run]) -> str:
    """The runs whose speed-up interval reaches the fastest's: as fast, as far as it can tell."""
    if fastest.speedup_ci is None:
        return ""
    low = fastest.speedup_ci[0]
    tied = [run_label(r) for r in others if r.speedup_ci is not None and r.speedup_ci[1] >= low]
    if not tied:
        return ""
    if len(tied) <= _TIED_NAMED:
        return f", as fast as {' and '.join(tied)} within the interval"
    return f", {len(tied)} others as fast within the interval"


def _work(c: Comparison) -> str:
    kind = measured_kind(c)
    if kind.name == "unmeasured":
        return f" — the work's kind is not known from this ({kind.evidence})."
    name = "computing" if kind.name.startswith("computing") else kind.name
    return f" — {name} work ({kind.evidence}): {kind.advice}."


def takeaway(c: Comparison) -> str:
    """One sentence: the fastest valid strategy, its speed-up with its interval, and the work's
    measured kind with what it means; a contended or missing result is said as such, and the
    runs that failed are named."""
    return _sentence(c) + _failed(c)


def _sentence(c: Comparison) -> str:
    valid = [r for r in c.runs if _valid(r)]
    if not valid:
        return "No valid run: no strategy completed the work correctly, so nothing is compared."
    faster = [r for r in valid if r.strategy != "sequential"]
    if not faster:
        return "Only the sequential reference completed: no other strategy to compare it with."
    fastest = min(faster, key=lambda r: r.median_wall_s or 0.0)
    if fastest.speedup_contended:
        return (
            f"Fastest: {run_label(fastest)}, {fastest.speedup:.2f}×†{_interval(fastest)}, but measured "
            "while the machine did not give it its cores (†): no conclusion; run again when it is quiet."
        )
    if (fastest.speedup or 0.0) < 1.0:
        kind = _work(c)
        return f"Nothing beat the plain loop: the best, {run_label(fastest)}, was {fastest.speedup:.2f}×{kind}"
    others = [r for r in faster if r is not fastest and not r.speedup_contended]
    head = f"Fastest: {run_label(fastest)}, {fastest.speedup:.2f}×{_interval(fastest)}"
    return head + _tied(fastest, others) + _work(c)


def _failed(c: Comparison) -> str:
    """The runs that failed, named: a reader of the sentence alone must not miss them."""
    failed = [r for r in c.runs if r.status == RUN_FAILED]
    if not failed:
        return ""
    naive = [r for r in failed if r.naive_wall_s is not None]
    whose = f" for {run_label(naive[0])}" if naive and len(failed) > 1 else ""
    timer = (
        f" (a plain timer said {duration(naive[0].naive_wall_s, 's')}{whose}: "
        "the time its children took to fail)"
        if naive
        else ""
    )
    names = ", ".join(run_label(r) for r in failed)
    return f" Failed, so not compared: {names}{timer}."
