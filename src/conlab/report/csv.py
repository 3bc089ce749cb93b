"""The results as CSV: one row per comparison and strategy, every timing sample kept."""

from __future__ import annotations

import csv
import io

from conlab import outputs
from conlab.measure import stats
from conlab.model import Results, Run
from conlab.report import words
from conlab.report.terminal import strategy_label

COLUMNS = (
    "comparison",
    "workload",
    "strategy",
    "workers",
    "workers_source",
    "status",
    "reason",
    "median_s",
    "min_s",
    "max_s",
    "q1_s",
    "q3_s",
    "iqr_s",
    "cv",
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "cpu_s",
    "parallelism",
    "startup_s",
    "peak_rss_bytes",
    "peak_uss_bytes",
    "samples_s",
)


def _row(k: int, workload: str, run: Run) -> list[object]:
    s = stats.summarise(run.wall_s) if run.wall_s else None
    lo, hi = run.speedup_ci if run.speedup_ci is not None else (None, None)
    timing: list[object] = [s.median, s.min, s.max, s.q1, s.q3, s.iqr, s.cv] if s else [None] * 7
    return [
        k,
        workload,
        strategy_label(run),
        run.workers,
        run.workers_source or "",
        words.run_status(run),
        run.reason,
        *timing,
        run.speedup,
        lo,
        hi,
        run.median_cpu_s,
        run.parallelism,
        run.median_startup_s,
        run.max_peak_rss_bytes,
        run.max_peak_uss_bytes,
        " ".join(repr(x) for x in run.wall_s),
    ]


def render(results: Results) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for k, c in enumerate(results.comparisons):
        for run in c.runs:
            writer.writerow(["" if v is None else v for v in _row(k, c.workload, run)])
    return out.getvalue()


def write(results: Results, path: str) -> None:
    """Replace ``path`` with :func:`render` of ``results``, atomically."""
    outputs.write_text(render(results), path)
