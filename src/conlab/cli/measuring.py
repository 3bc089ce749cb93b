"""The one path every measuring command takes, from its arguments to what it shows and writes.

Check every output → plan (the command's own checks) → console → environment →
progress bar → measure, part by part → write → show → say where the files are.
A command says only what it measures and how to show it: a :class:`Measurement`.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conlab.cli.console import make_console, progress_bar, wants_progress
from conlab.cli.exports import Exports
from conlab.errors import ConlabError

if TYPE_CHECKING:
    from rich.console import Console

    from conlab.lab.compare import Progress, Update
    from conlab.model import Comparison, Results


@dataclass
class Part:
    """What one part of a measurement gave: its comparisons, and how to show them."""

    comparisons: list[Comparison]
    show: Callable[[Console, Results], None] | None = None
    # Measured under another interpreter (--python): the environment it ran in.
    environment: dict[str, Any] | None = None
    complete: bool = True


@dataclass
class Measurement:
    """What a measuring command measures, in parts, each measured when called."""

    parts: Callable[[Progress | None, Update | None], Iterable[Callable[[], Part]]]
    shows_environment: bool = True
    intro: str | None = None  # said before measuring, with the progress bar

    @classmethod
    def of_one(
        cls, measure: Callable[[Progress | None, Update | None], Part], **options: Any
    ) -> Measurement:
        """A measurement in one part: ``measure(progress, on_round)``."""
        return cls(lambda progress, on_round: [lambda: measure(progress, on_round)], **options)


Plan = Callable[[argparse.Namespace], Measurement]


@dataclass
class _Collected:
    """The results so far: the comparisons of the parts done, then the one in progress."""

    results: Results
    done: list[Comparison] = field(default_factory=list)
    complete: bool = True  # whether every part done measured all it was asked to

    def round_done(self, partial: Comparison) -> None:
        self.results.comparisons = [*self.done, partial]

    def part_done(self, part: Part) -> None:
        if part.environment is not None:
            for comparison in part.comparisons:
                comparison.environment = len(self.results.environments)
            self.results.environments.append(part.environment)
        self.done.extend(part.comparisons)
        self.complete = self.complete and part.complete
        self.results.comparisons = list(self.done)

    def interrupted(self, exc: KeyboardInterrupt) -> bool:
        """Take what Ctrl-C left (the comparison as far as it got); whether there is any."""
        from conlab.errors import Interrupted

        if self.results.complete:  # written whole already: Ctrl-C came while showing it
            return False
        if isinstance(exc, Interrupted):
            self.round_done(exc.partial)
        return bool(self.results.comparisons)


def run(args: argparse.Namespace, plan: Plan | None = None) -> int:
    """Measure as ``plan`` (by default the command's) says, writing and showing as it goes."""
    from conlab import api
    from conlab.model import Results

    exports = Exports.from_args(args, {"--inputs": getattr(args, "inputs", None)})
    exports.check()
    measurement = (plan or args.plan)(args)
    console = make_console()
    collected = _Collected(Results(api.environment(), complete=False))
    if measurement.shows_environment:
        from conlab.report import terminal

        terminal.render_environment(console, collected.results.environment)
    try:
        _measure(measurement, collected, exports, console, wants_progress(console, args))
    except KeyboardInterrupt as exc:
        _save_interrupted(collected, exc, exports)
        raise
    exports.announce(console)
    return exit_code(collected.results)


EXIT_NO_VALID_RUN = 1


def exit_code(results: Results) -> int:
    """0 when a run was valid, or nothing was run (advise --no-verify); 1 when runs were made
    and none of them is valid, so that CI notices a comparison where everything failed."""
    from conlab.model import RUN_OK, RUN_UNAVAILABLE

    runs = [r for c in results.comparisons for r in c.runs if r.status != RUN_UNAVAILABLE]
    if runs and not any(r.status == RUN_OK for r in runs):
        return EXIT_NO_VALID_RUN
    return 0


def _measure(
    measurement: Measurement,
    collected: _Collected,
    exports: Exports,
    console: Console,
    show_progress: bool,
) -> None:
    results = collected.results

    # Results are written after each round, marked incomplete, because a run that is
    # interrupted or fails later would otherwise lose every round that completed.
    def on_round(partial: Comparison) -> None:
        collected.round_done(partial)
        exports.write(results, intermediate=True)

    last = None
    if measurement.intro and show_progress:
        console.print(measurement.intro)
    with progress_bar(show_progress, console) as progress:
        parts = measurement.parts(progress, on_round if exports.after_each_round else None)
        for part, is_last in _with_last(parts):
            last = part()
            collected.part_done(last)
            results.complete = is_last and collected.complete
            # Files first: a reader that stops early (conlab ... | head) must not cost them.
            exports.write(results, intermediate=not is_last)
            if not is_last:
                _show(last, console, results)
    # The last part is shown once the progress bar is gone.
    if last is not None:
        _show(last, console, results)


def _show(part: Part, console: Console, results: Results) -> None:
    if part.show is not None:
        part.show(console, results)


def _with_last(parts: Iterable[Callable[[], Part]]) -> Iterator[tuple[Callable[[], Part], bool]]:
    """Each part, and whether it is the last (taking the next part measures nothing)."""
    it = iter(parts)
    try:
        part = next(it)
    except StopIteration:
        return
    for following in it:
        yield part, False
        part = following
    yield part, True


def _save_interrupted(collected: _Collected, exc: KeyboardInterrupt, exports: Exports) -> None:
    """Ctrl-C: write what completed, with the part in progress as far as it got, marked incomplete."""
    if not collected.interrupted(exc) and collected.results.complete:
        return
    # Written even with nothing completed: a complete file from an earlier run must not
    # stay in place looking like this run's result.
    with contextlib.suppress(OSError, ConlabError):
        exports.write(collected.results, intermediate=True)
        if exports.path("json"):
            exc.saved_to = exports.path("json")  # type: ignore[attr-defined]


def measure(args: argparse.Namespace) -> Results:
    """The command's measurement alone, nothing shown or written: what a --python child runs."""
    from conlab import api
    from conlab.model import Results

    results = Results(api.environment())
    for part in args.plan(args).parts(None, None):
        results.comparisons.extend(part().comparisons)
    return results
