"""Jupyter's view of comparisons and sweeps: the table, timelines and outputs, not a repr.

The model keeps a one-line ``repr``; this registers IPython display formatters
for it instead, so that a cell that ends with a comparison shows its report.
``import conlab`` calls :func:`register` when it finds itself inside IPython.
"""

from __future__ import annotations

import sys
from typing import Any

from conlab.lab.sweep import Sweep
from conlab.model import Comparison
from conlab.report import html, text


def register() -> bool:
    """Register the views with the running IPython shell; False outside one."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(Comparison, comparison_html)
    formatters["text/html"].for_type(Sweep, sweep_html)
    formatters["text/plain"].for_type(Comparison, _plain(text.comparison_text))
    formatters["text/plain"].for_type(Sweep, _plain(text.sweep_text))
    return True


def comparison_html(c: Comparison) -> str:
    """The table, the timelines and each task's output, as a notebook cell shows them."""
    return html.comparison_fragment(c, notebook=True)


def sweep_html(sweep: Sweep) -> str:
    return html.sweep_fragment(sweep, notebook=True)


def _plain(render: Any) -> Any:
    def pretty(obj: Any, printer: Any, cycle: bool) -> None:
        printer.text(render(obj))

    return pretty
