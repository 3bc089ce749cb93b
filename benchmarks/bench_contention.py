"""Right answers on a busy machine (issue 16), each check run twice: on the machine as it is
("quiet") and next to a one-core pure-Python spinner process that the benchmark starts and stops
itself, so that the figures do not depend on the day.

- A/A: the cpu workload compared under one strategy against itself (thread-pool:2 twice,
  process-pool:2 twice), COUNT comparisons each; conlab (measure/diff, as `conlab diff` judges)
  may call at most 1 in 20 significantly different.
- Lesson: `conlab demo --quick`'s part 4 (the table) under the spinner states no cell that
  contradicts the quiet run: each cell is the quiet one's answer or "not shown", with the reason.
- Warnings: `compare sleep` prints no warning line on the quiet machine; under the spinner at most
  one line, and it names the busy machine.
- Advice: five functions that are not in the catalogue (multithreaded-BLAS numpy, an async def,
  a 50 MB result, a tiny task, a task that sleeps then computes): the recommendation is the
  measured best or within 10 % of it, judged against measurements in the same condition, for 4
  of 5 in each condition; advise --no-verify under 5 s.

The machine's capacity (measure/capacity) is printed with each condition: on a shared machine
whose "quiet" condition is not quiet, the figures say so.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/bench_contention.py [--count N] [CHECK ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import bench_advice
import contention_tasks
from _noise import CONDITIONS, condition

from conlab.advice import advise, calibrate
from conlab.lab.compare import compare
from conlab.lesson import table
from conlab.measure import noise
from conlab.measure.capacity import measure_capacity
from conlab.measure.diff import ALPHA, MIN_EFFECT, compare_runs
from conlab.strategies import ProcessPoolStrategy, ThreadPoolStrategy
from conlab.workloads import build
from conlab.workloads.user import function_workload

A_A_SHARE, ADVICE_SHARE, ADVISE_S = 1 / 20, 4 / 5, 5.0


def a_a(count: int) -> list[str]:
    """Comparisons of a strategy against itself: how many conlab calls significant."""
    failures = []
    print("| condition | pair | significant | contended | capacity |")
    print("| --- | --- | ---: | ---: | ---: |")
    for cond in CONDITIONS:
        for make in (lambda: ThreadPoolStrategy(2), lambda: ProcessPoolStrategy(2)):
            significant = contended = 0
            with condition(cond):
                capacity = measure_capacity()
                for k in range(count):
                    c = compare(build("cpu", tasks=4, size=0.05), [make(), make()], 5, 1, seed=k)
                    a, b = c.runs[1], c.runs[2]
                    row = compare_runs("cpu", a, b, MIN_EFFECT, ALPHA)
                    significant += row.significant
                    contended += a.contended or b.contended
            label = f"{c.runs[1].label} twice"
            print(
                f"| {cond} | {label} | {significant}/{count} | {contended}/{count} | {capacity} |"
            )
            if significant > A_A_SHARE * count:
                failures.append(f"A/A {cond} {label}: {significant} of {count} significant")
    return failures


def _cells(lesson: table.Lesson) -> dict[tuple[str, str], str]:
    return {
        (row.question, side): getattr(row, side)
        for row in lesson.rows + lesson.extra
        for side in ("threads", "processes")
    }


# The cells whose first word is the lesson's answer (the others hold figures, not answers).
ANSWERED = ("Runs truly parallel?", "Best for", "C code that releases the GIL (hashlib)")


def lesson() -> list[str]:
    """Part 4 quiet, then under the spinner: every answer the same, or not shown."""
    quiet = _cells(table.measure(quick=True, start_method="fork"))
    with condition("spinner"):
        busy = _cells(table.measure(quick=True, start_method="fork"))
    failures = []
    print("| cell | quiet | under the spinner | |")
    print("| --- | --- | --- | --- |")
    for key in quiet:
        if key[0] not in ANSWERED:
            continue
        q, b = quiet[key], busy[key]
        shown = not b.startswith("not shown")
        agrees = not shown or q.startswith("not shown") or q.split(":")[0] == b.split(":")[0]
        verdict = "same" if shown and agrees else ("not shown" if not shown else "CONTRADICTS")
        print(f"| {key[0]} / {key[1]} | {q[:60]} | {b[:60]} | {verdict} |")
        if not agrees:
            failures.append(f"lesson: {key} quiet {q!r}, under the spinner {b!r}")
    return failures


def warnings() -> list[str]:
    """compare sleep: no warning line quiet; one, naming the busy machine, under the spinner."""
    failures = []
    print("| condition | warning lines | the line | other cores |")
    print("| --- | ---: | --- | ---: |")
    for cond in CONDITIONS:
        with condition(cond):
            c = compare(build("sleep"), [ThreadPoolStrategy(2), ThreadPoolStrategy(8)], 5, 1)
        found = noise.comparison_warnings(c, 2)
        line = noise.one_line(found)
        lines = 0 if line is None else 1
        other = max((max(r.other_cores, default=0.0) for r in c.runs), default=0.0)
        print(f"| {cond} | {lines} | {(line or '')[:90]} | {other:.2f} |")
        if cond == "quiet" and line is not None and other <= noise.BUSY_OTHER_CORES:
            failures.append(f"warnings: quiet run warned: {line}")
        if cond == "spinner" and (line is None or ("busy" not in line and "contended" not in line)):
            failures.append(f"warnings: the spinner was not named: {line}")
    return failures


FUNCTIONS: dict[str, Callable[[], Any]] = {
    "blas-numpy": lambda: function_workload(contention_tasks.matmul, range(8)),
    "async-def": lambda: function_workload(contention_tasks.fetch, range(32)),
    "50MB-result": lambda: function_workload(contention_tasks.big_result, range(4)),
    "tiny-task": lambda: function_workload(contention_tasks.tiny, range(200)),
    "sleep-then-compute": lambda: function_workload(contention_tasks.sleep_then_compute, range(8)),
}


def advice() -> list[str]:
    """The five functions, each condition: the recommendation against the measured best."""
    failures = []
    print("| condition | function | recommended | measured best | within 10 % | advise s |")
    print("| --- | --- | --- | --- | --- | ---: |")
    for cond in CONDITIONS:
        good = 0
        with condition(cond):
            for name, make in FUNCTIONS.items():
                workload = make()
                calibrate.clear()
                t0 = time.perf_counter()
                adv = advise(workload, verify=False)
                took = time.perf_counter() - t0
                picks = bench_advice.candidates(adv)
                c = compare(workload, [bench_advice.strategy_for(p) for p in picks], 3, 1)
                measured = {
                    run.label: t for run in c.runs if (t := bench_advice.total_s(run)) is not None
                }
                best = min(measured, key=measured.__getitem__)
                mine = adv.chosen.label.split("/")[0]
                ok = mine in measured and measured[mine] <= measured[best] * 1.10
                good += ok
                print(
                    f"| {cond} | {name} | {mine} | {best} | {'yes' if ok else 'no'} | {took:.1f} |"
                )
                if took > ADVISE_S:
                    failures.append(f"advice {cond} {name}: advise took {took:.1f} s")
        if good < ADVICE_SHARE * len(FUNCTIONS):
            failures.append(f"advice {cond}: {good} of {len(FUNCTIONS)} within 10 %")
    return failures


CHECKS = {"a_a": a_a, "lesson": lesson, "warnings": warnings, "advice": advice}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="A/A comparisons per condition")
    parser.add_argument("checks", nargs="*", help=f"some of {', '.join(CHECKS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.checks if name not in CHECKS]
    if unknown:
        parser.error(f"unknown check {unknown[0]!r}: give some of {', '.join(CHECKS)}")
    failures: list[str] = []
    for name in args.checks or list(CHECKS):
        print(f"\n### {name}\n", flush=True)
        print(f"capacity before: {measure_capacity()} cores\n")
        check = CHECKS[name]
        failures += check(args.count) if name == "a_a" else check()  # type: ignore[operator]
    for failure in failures:
        print(f"MISSED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
