"""The files one command writes, built from its arguments and checked before anything runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from conlab.errors import ConlabError, UsageError

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
        """Write every output: ``intermediate`` after a round, or final once measuring is done.

        A write that fails (a full disk, a directory made read-only meanwhile) loses no
        measurement: that output goes to a file in the temporary directory (or the
        current one) from then on, said once on stderr; only when no file can be written
        anywhere is it an error, and only at the final write.
        """
        for k, (exporter, path) in enumerate(self.targets):
            try:
                exporter.write(results, path, intermediate)
            except (OSError, UsageError) as exc:
                try:
                    self.targets[k] = (exporter, self._elsewhere(exporter, path, exc, results))
                except ConlabError:
                    if not intermediate:
                        raise  # after a round: the final write tries again

    def _elsewhere(self, exporter: Exporter, path: str, exc: Exception, results: Results) -> str:
        from conlab import outputs

        why = outputs.reason(exc)
        for other in outputs.elsewhere(path):
            try:
                exporter.export(results, other)
            except (OSError, UsageError):
                continue
            sys.stderr.write(f"conlab: {outputs.notice(path, why, other)}\n")
            return other
        raise outputs.nowhere(path, why)

    def announce(self, console: Console) -> None:
        """Tell the user where each file is."""
        for exporter, path in self.targets:
            console.print(exporter.notice(path))
