"""One interface for every file the results are written to, one implementation per format.

As hyperfine's exporters: each takes the results and whether they are
intermediate (after a round, while measuring goes on) or final. Whether a
format is written after each round is the exporter's decision, declared once in
``after_each_round``: the result file, Markdown and CSV are, so that a run cut
short keeps what completed; the HTML report, the plot and the trace are drawn
once, at the end, because a picture takes seconds to draw and a half-drawn
timeline would be mistaken for the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from conlab import resultfile
from conlab.model import Results
from conlab.report import csv, html, markdown, plot, trace

__all__ = ["EXPORTERS", "Exporter"]


class Exporter(ABC):
    """Writes the results to a file in one format."""

    option: ClassVar[str]  # the command-line option that names the file, without its dashes
    after_each_round: ClassVar[bool] = True  # whether intermediate results are written too

    def check(self, path: str) -> None:  # noqa: B027 (most formats have nothing to check)
        """Fail before measuring when this format cannot be written to ``path``."""

    def write(self, results: Results, path: str, intermediate: bool) -> bool:
        """Write ``results`` to ``path``; whether it did (intermediate results may be skipped)."""
        if intermediate and not self.after_each_round:
            return False
        self.export(results, path)
        return True

    @abstractmethod
    def export(self, results: Results, path: str) -> None:
        """Replace ``path`` with ``results`` in this format."""

    @abstractmethod
    def notice(self, path: str) -> str:
        """The line that tells the user where the file is."""


class _ResultsExporter(Exporter):
    """The tables of the results: written after each round, announced alike."""

    def notice(self, path: str) -> str:
        return f"\nResults written to {path}"


class JsonExporter(_ResultsExporter):
    """The result file, ``conlab.results/1``: read back by show, diff and report."""

    option = "json"

    def export(self, results: Results, path: str) -> None:
        resultfile.write(results, path)


class MarkdownExporter(_ResultsExporter):
    option = "markdown"

    def export(self, results: Results, path: str) -> None:
        markdown.write(results, path)


class CsvExporter(_ResultsExporter):
    option = "csv"

    def export(self, results: Results, path: str) -> None:
        csv.write(results, path)


class HtmlExporter(Exporter):
    option = "html"
    after_each_round = False

    def export(self, results: Results, path: str) -> None:
        html.write(results, path)

    def notice(self, path: str) -> str:
        return f"HTML report written to {path}"


class PlotExporter(Exporter):
    option = "plot"
    after_each_round = False

    def check(self, path: str) -> None:
        plot.check(path)

    def export(self, results: Results, path: str) -> None:
        plot.plot(results, path)

    def notice(self, path: str) -> str:
        return f"Plot written to {path}"


class TraceExporter(Exporter):
    option = "trace"
    after_each_round = False

    def export(self, results: Results, path: str) -> None:
        trace.write(results, path)

    def notice(self, path: str) -> str:
        return f"Trace written to {path}"


# In the order they are written and announced.
EXPORTERS: tuple[Exporter, ...] = (
    JsonExporter(),
    MarkdownExporter(),
    CsvExporter(),
    HtmlExporter(),
    PlotExporter(),
    TraceExporter(),
)
