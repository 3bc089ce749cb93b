"""Where the command line shows things: the console, and a progress bar while measuring."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from conlab.lab.compare import Progress as ProgressCallback


def make_console() -> Console:
    """A console that shows control characters visibly and prints on any stdout encoding."""
    from conlab.report.visible import SafeConsole

    console = SafeConsole(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped to a file or a CI log: nothing to fit, so keep every column.
        console = SafeConsole(highlight=False, width=140)
    return console


def wants_progress(console: Console, args: argparse.Namespace) -> bool:
    """A progress bar only on a terminal, and never with --quiet."""
    return console.is_terminal and not getattr(args, "quiet", False)


@contextlib.contextmanager
def progress_bar(
    enabled: bool, console: Console | None = None
) -> Iterator[ProgressCallback | None]:
    """A progress bar on a terminal; nothing when output is piped or --quiet is given.

    Drawn on ``console``, the one the results are printed on while it runs: on another
    console, the bar would erase lines it did not draw and leave itself on screen."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
        console=console,
    ) as bar:
        task = bar.add_task("measuring", total=None)

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"measuring {label}")

        yield update
