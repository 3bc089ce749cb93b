"""The files one command writes, built from its arguments and checked before anything runs."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from conlab.model import Results
    from conlab.report.exporters import Exporter


class Exports:
    """Every output a command was given (--json, --markdown, --csv, --html, --plot, --trace)."""

    def __init__(
        self, targets: Sequence[tuple[Exporter, str]], inputs: Mapping[str, str | None]
    ) -> None:
        self.targets = list(targets)
        self.inputs = dict(inputs)

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, inputs: Mapping[str, str | None] | None = None
    ) -> Exports:
        """The outputs ``args`` names; ``inputs`` (option: path) are files none may overwrite."""
        from conlab.report.exporters import EXPORTERS

        targets = [(e, path) for e in EXPORTERS if (path := getattr(args, e.option, None))]
        return cls(targets, inputs or {})

    def check(self) -> None:
        """Fail with one line, before measuring, when any output could not be written."""
        from conlab import outputs

        if not self.targets:
            return
        outputs.check({f"--{e.option}": path for e, path in self.targets}, self.inputs)
        for exporter, path in self.targets:
            exporter.check(path)

    @property
    def after_each_round(self) -> bool:
        """Whether any output is written after each round, not only at the end."""
        return any(e.after_each_round for e, _ in self.targets)

    def path(self, option: str) -> str | None:
        """Where the output of ``option`` (``json``) goes, if it was given."""
        return next((path for e, path in self.targets if e.option == option), None)

    def write(self, results: Results, intermediate: bool) -> None:
        """Write every output: ``intermediate`` after a round, or final once measuring is done."""
        for exporter, path in self.targets:
            exporter.write(results, path, intermediate)

    def announce(self, console: Console) -> None:
        """Tell the user where each file is."""
        for exporter, path in self.targets:
            console.print(exporter.notice(path))
