"""The measuring commands: each says what it asks of :mod:`conlab.api` and how to show it.

Each ``plan_*`` checks its arguments (before anything is measured) and returns a
:class:`~conlab.cli.measuring.Measurement`; :func:`conlab.cli.measuring.run`
does the rest, the same way for every command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from conlab.cli.measuring import Measurement, Part, Plan
from conlab.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from conlab.lab.compare import Progress, Update
    from conlab.lesson.table import Lesson
    from conlab.model import Comparison, Results, Workload


Show = Callable[["Console", "Results"], None]


def _cores(results: Results) -> int | None:
    cores = results.environment.get("usable_cpus")
    return cores if isinstance(cores, int) else None


def _comparison_shown(comparison: Comparison, args: argparse.Namespace) -> Show:
    """How a comparison is shown: its tables, then its tasks' output (--raw-output, --verbose)."""

    def show(console: Console, results: Results) -> None:
        from conlab.report import terminal

        console.print()
        terminal.render(
            console,
            comparison,
            raw_output=args.raw_output,
            cores=_cores(results),
            verbose=args.verbose,
            output=args.output,
        )

    return show


def _lesson_shown(lesson: Lesson, part: str = "") -> Show:
    def show(console: Console, results: Results) -> None:
        from conlab.report import explain as explain_report

        console.print()
        explain_report.render(console, lesson, part)

    return show


def _repeats_warmup(args: argparse.Namespace, repeats: int) -> tuple[int, int]:
    """--repeats and --warmup, or the command's default repeats and one warm-up."""
    return (
        args.repeats if args.repeats is not None else repeats,
        args.warmup if args.warmup is not None else 1,
    )


def plan_demo(args: argparse.Namespace) -> Measurement:
    from conlab import api
    from conlab.model import Comparison

    def part(measure: Callable[[], Comparison | Lesson]) -> Callable[[], Part]:
        def measured() -> Part:
            outcome = measure()
            if isinstance(outcome, Comparison):
                return Part([outcome], _comparison_shown(outcome, args))
            return Part(outcome.comparisons(), _lesson_shown(outcome, part="4"))

        return measured

    def parts(progress: Progress | None, on_round: Update | None) -> Iterator[Callable[[], Part]]:
        demo = api.demo(
            quick=args.quick,
            repeats=args.repeats,
            warmup=args.warmup,
            start_method=args.start_method,
            timeout_s=args.timeout,
            isolate=args.isolate,
            progress=progress,
            on_update=on_round,
        )
        return (part(measure) for measure in demo)

    return Measurement(parts)


def workload_of(args: argparse.Namespace) -> Workload:
    """A catalogue name with its --param, or module:function with --inputs or --range."""
    from conlab.workloads import params, resolve

    return resolve(args.workload, params.split(args.param), inputs=args.inputs, range_n=args.range)


def plan_compare(args: argparse.Namespace) -> Measurement:
    from conlab import api
    from conlab.lab.remeasure import REMEASURE_S, Remeasure

    chosen = api.strategy_list(
        _names(args.strategies),
        args.workers,
        args.start_method,
        scheduler=args.scheduler,
        ray_address=args.ray_address,
        timeout_s=args.timeout,
        isolate=args.isolate,
    )
    workload = workload_of(args)
    repeats, warmup = _repeats_warmup(args, 5)

    def measure(progress: Progress | None, on_round: Update | None) -> Part:
        comparison = api.compare(
            workload,
            strategies=chosen,
            repeats=repeats,
            warmup=warmup,
            progress=progress,
            on_update=on_round,
            remeasure=Remeasure(
                args.remeasure_rounds,
                REMEASURE_S if args.remeasure_time is None else args.remeasure_time,
            ),
        )
        return Part([comparison], _comparison_shown(comparison, args))

    return Measurement.of_one(measure)


def plan_sweep(args: argparse.Namespace) -> Measurement:
    from conlab import api

    repeats, warmup = _repeats_warmup(args, 3)

    def measure(progress: Progress | None, on_round: Update | None) -> Part:
        result = api.sweep(
            args.workload,
            args.strategy,
            args.workers or [1, 2, 4, 8],
            tasks=args.tasks,
            repeats=repeats,
            warmup=warmup,
            start_method=args.start_method,
            scheduler=args.scheduler,
            ray_address=args.ray_address,
            timeout_s=args.timeout,
            isolate=args.isolate,
            progress=progress,
        )

        def show(console: Console, results: Results) -> None:
            from conlab.report.text import fit_sentence, sweep_table

            console.print(sweep_table(result))
            for tasks in result.task_counts:
                console.print(f"{tasks} tasks: {fit_sentence(result, tasks)}")

        return Part(list(result.comparisons), show)

    return Measurement.of_one(measure, shows_environment=False)


def plan_advise(args: argparse.Namespace) -> Measurement:
    from conlab import api

    if args.timeout is not None or args.isolate:
        # The probe runs tasks in this process; it has no sandbox to honour these in.
        raise UsageError(
            "advise does not take --timeout or --isolate yet: "
            "use them with 'conlab compare' on the strategies advise names"
        )
    workload = workload_of(args)
    strategies = _names(args.strategies)
    repeats, warmup = _repeats_warmup(args, 3)

    def measure(progress: Progress | None, on_round: Update | None) -> Part:
        advice = api.advise(
            workload,
            workers=args.workers,
            strategies=strategies,
            start_method=args.start_method,
            verify=not args.no_verify,
            repeats=repeats,
            warmup=warmup,
            progress=progress,
        )

        def show(console: Console, results: Results) -> None:
            from conlab.report import advice as advice_report

            if advice.comparison is not None:
                _comparison_shown(advice.comparison, args)(console, results)
            console.print()
            advice_report.render(console, advice.to_dict(), model=args.explain_model)

        return Part([api.advice_comparison(advice)], show)

    return Measurement.of_one(measure)


def _names(text: str | None) -> list[str] | None:
    """``--strategies a,b`` as names, or None when not given."""
    if text is None:
        return None
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--strategies needs at least one name, e.g. thread-pool,process-pool")
    return names


def plan_explain(args: argparse.Namespace) -> Measurement:
    from conlab import api

    def measure(progress: Progress | None, on_round: Update | None) -> Part:
        lesson = api.explain(quick=args.quick, start_method=args.start_method, progress=progress)
        return Part(lesson.comparisons(), _lesson_shown(lesson))

    return Measurement.of_one(measure)


def plan_under_pythons(argv: Sequence[str]) -> Plan:
    """--python: the command's measurement under each interpreter in turn, shown side by side."""

    def plan(args: argparse.Namespace) -> Measurement:
        from conlab.cli import pythons

        if getattr(args, "measure", None) is None:
            raise UsageError(f"--python is not supported by 'conlab {args.command}'")
        interpreters = [pythons.inspect_python(path) for path in args.python]
        child_argv = pythons.strip_python_options(argv)

        def show(console: Console, results: Results) -> None:
            from conlab.report import terminal

            terminal.render_results(
                console, results, raw_output=args.raw_output, output=args.output
            )

        def part(interpreter: pythons.Interpreter, last: bool) -> Callable[[], Part]:
            def measured() -> Part:
                child = pythons.run_child(interpreter, child_argv)
                shown = show if last else None  # all side by side, once all are measured
                return Part(child.comparisons, shown, child.environment, child.complete)

            return measured

        parts = [part(i, i is interpreters[-1]) for i in interpreters]
        labels = ", ".join(i.label for i in interpreters)
        return Measurement(
            lambda progress, on_round: parts,
            shows_environment=False,
            intro=f"Measuring under {labels}, one at a time",
        )

    return plan
