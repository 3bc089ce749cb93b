"""The one-sentence takeaway: the fastest valid run, its interval, and the work's measured kind."""

from __future__ import annotations

import re

from conlab.lab.compare import compare
from conlab.model import RUN_FAILED, RUN_OK, RUN_UNAVAILABLE, Comparison, Run
from conlab.report.takeaway import measured_kind, run_label, takeaway
from conlab.strategies import make
from conlab.workloads import build


def _run(strategy: str, workers: int, wall_s: float, cpu_s: float, **kw: object) -> Run:
    ref_wall_s = kw.pop("ref_wall_s", 1.0)
    assert isinstance(ref_wall_s, float)
    speedup = ref_wall_s / wall_s
    return Run(
        strategy,
        workers,
        wall_s=[wall_s * 0.99, wall_s, wall_s * 1.01],
        cpu_s=[cpu_s] * 3,
        speedup=speedup,
        speedup_ci=(speedup * 0.97, speedup * 1.03),
        **kw,  # type: ignore[arg-type]
    )


def _comparison(*runs: Run) -> Comparison:
    return Comparison("work", "mixed", 4, runs=list(runs))


def test_computing_under_the_gil_names_processes_and_the_threads_figure() -> None:
    c = _comparison(
        _run("sequential", 1, 1.0, 0.99),
        _run("thread-pool", 2, 1.02, 1.0),
        _run("process-pool", 2, 0.52, 1.0),
    )
    sentence = takeaway(c)
    assert sentence.startswith("Fastest: process-pool:2, 1.92× (1.87–1.98)")
    assert "computing work (CPU 99 % of wall; thread-pool:2 0.98×)" in sentence
    assert "processes or interpreters" in sentence
    assert measured_kind(c).name == "computing"


def test_computing_that_runs_in_parallel_in_threads_says_threads_suffice() -> None:
    c = _comparison(
        _run("sequential", 1, 1.0, 0.98),
        _run("threads", 2, 0.55, 1.0),
        _run("process-pool", 2, 0.6, 1.0),
    )
    assert measured_kind(c).name == "computing-parallel"
    assert "threads suffice" in takeaway(c)


def test_mixed_work_between_the_thresholds() -> None:
    c = _comparison(_run("sequential", 1, 1.0, 0.5), _run("threads", 2, 0.7, 0.5))
    assert "mixed work (CPU 50 % of wall" in takeaway(c)


def test_runs_within_the_fastest_interval_are_named_as_ties() -> None:
    c = _comparison(
        _run("sequential", 1, 1.0, 0.001),
        _run("threads", 2, 0.5, 0.001),
        _run("asyncio", 2, 0.501, 0.001),
        _run("processes", 2, 0.7, 0.01),
    )
    sentence = takeaway(c)
    assert "as fast as asyncio:2 within the interval" in sentence
    assert "processes:2" not in sentence
    assert "waiting work (CPU <1 % of wall)" in sentence


def test_a_contended_fastest_run_draws_no_conclusion() -> None:
    c = _comparison(
        _run("sequential", 1, 1.0, 0.01),
        _run("threads", 2, 0.5, 0.01, speedup_contended=True),
    )
    sentence = takeaway(c)
    assert "2.00×†" in sentence
    assert "no conclusion" in sentence
    assert "waiting work" not in sentence


def test_no_valid_run_and_only_the_reference_are_said_as_such() -> None:
    failed = Run("processes", 2, status=RUN_FAILED, reason="crashed")
    missing = Run("interpreters", 2, status=RUN_UNAVAILABLE, reason="3.13+")
    assert takeaway(_comparison(failed, missing)).startswith("No valid run")
    only = _comparison(_run("sequential", 1, 1.0, 0.5), failed)
    assert takeaway(only).startswith("Only the sequential reference completed")


def test_nothing_faster_than_the_loop_is_said_plainly() -> None:
    c = _comparison(_run("sequential", 1, 1.0, 0.99), _run("threads", 2, 1.2, 1.0))
    assert takeaway(c).startswith("Nothing beat the plain loop: the best, threads:2, was 0.83×")


def test_measured_waiting_work_reads_waiting_with_the_run_figures() -> None:
    c = compare(
        build("seed", sleep_s=0.01),
        [make("threads"), make("process-pool", 2)],
        repeats=2,
        warmup=0,
    )
    assert all(r.status == RUN_OK for r in c.runs)
    sentence = takeaway(c)
    fastest = min(c.runs[1:], key=lambda r: r.median_wall_s or 0.0)
    mark = "†" if fastest.speedup_contended else ""
    assert sentence.startswith(f"Fastest: {run_label(fastest)}, {fastest.speedup:.2f}×{mark}")
    if not fastest.speedup_contended:
        assert re.search(r"waiting work \(CPU [<\d]+ % of wall\)", sentence), sentence


def test_terminal_ends_with_the_takeaway_and_markdown_shows_it_under_the_table() -> None:
    from conlab.report import markdown, text

    c = _comparison(_run("sequential", 1, 1.0, 0.99), _run("process-pool", 2, 0.52, 1.0))
    sentence = takeaway(c)
    assert f"**{sentence}**" in markdown.comparison_markdown(c)
    shown = text.comparison_text(c)
    assert " ".join(shown.split()).endswith(sentence)


def test_a_starved_threads_run_is_not_taken_as_evidence_about_the_gil() -> None:
    c = _comparison(
        _run("sequential", 1, 1.0, 0.99),
        _run("thread-pool", 2, 1.4, 1.0, speedup_contended=True),
        _run("process-pool", 2, 0.52, 1.0, options={"start_method": "fork"}),
    )
    sentence = takeaway(c)
    assert sentence.startswith("Fastest: process-pool/fork:2")
    assert "thread-pool:2" not in sentence
    assert "starved of cores" in sentence


def test_a_starved_reference_does_not_name_the_work_kind() -> None:
    c = _comparison(
        _run("sequential", 1, 1.0, 0.6, speedup_contended=True),
        _run("process-pool", 2, 0.52, 1.0),
    )
    assert measured_kind(c).name == "unmeasured"
    assert "measured while the machine was busy" in takeaway(c)


def test_failed_runs_are_named_with_what_a_plain_timer_said() -> None:
    crashed = Run(
        "processes",
        2,
        options={"start_method": "spawn", "plain": True},
        status=RUN_FAILED,
        reason="crashed",
        naive_wall_s=0.138,
    )
    c = _comparison(_run("sequential", 1, 1.0, 0.01), crashed, _run("processes", 2, 0.55, 0.05))
    assert takeaway(c).endswith(
        " Failed, so not compared: processes/spawn, plain:2 (a plain timer said 0.138 s: "
        "the time its children took to fail)."
    )


def test_work_that_runs_threads_of_its_own_is_not_sent_to_processes() -> None:
    # A numpy product on multithreaded BLAS: the loop alone kept 1.86 cores busy and a process
    # pool of two was slower (try-as-user's matrix); "processes or interpreters" was wrong.
    c = _comparison(
        _run("sequential", 1, 0.139, 0.259, ref_wall_s=0.139),
        _run("process-pool", 2, 0.232, 0.455, ref_wall_s=0.139),
    )
    sentence = takeaway(c)
    assert "computing work (CPU 186 % of wall)" in sentence, sentence
    assert "threads of its own" in sentence and "processes or interpreters" not in sentence
