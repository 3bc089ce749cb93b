"""Results the picture tests draw: the lesson's table as a file keeps it, short tasks, a crash."""

from __future__ import annotations

from conlab.lab.compare import compare
from conlab.lesson.notebook import notebook_comparison
from conlab.lesson.table import Lesson, Row
from conlab.measure import environment
from conlab.model import Results
from conlab.strategies import make
from conlab.workloads import build

# Cells as the lesson writes them, with characters an HTML page and a terminal must show as text.
ROWS = [
    Row("Runs truly parallel?", "No: CPU/wall 1.00 <b>with</b> 2 threads", "Yes: 1.65 & more"),
    Row("Shares memory?", "Yes: 2 of 2 appends", "No: 0 of 2 appends | reached"),
]
EXTRA = [Row("Start-up (a pool)", "1.0 ms for 4 threads", "fork 18 ms for 2 processes")]
RULE = "threads for waiting; processes for computing."


def lesson_results() -> Results:
    """A real comparison carrying the lesson's table, as ``conlab demo`` writes it to a file."""
    computing = compare(
        build("cpu", tasks=2, size=0.02),
        [make("thread-pool", 2)],
        repeats=1,
        warmup=0,
        title="4a. The lesson's table: pure-Python computing, 2 workers",
    )
    lesson = Lesson(ROWS, EXTRA, RULE, {"computing": computing})
    return Results(environment.collect(), lesson.comparisons())


def short_tasks_results() -> Results:
    """Many short tasks of different lengths: bars too short for their names beside long ones."""
    work = build("cpu", tasks=16, size=0.02)
    c = compare(work, [make("thread-pool", 2), make("process-pool", 2)], repeats=1, warmup=0)
    return Results(environment.collect(), [c])


def crashed_results() -> Results:
    """The demo's part 3: the lesson's plain spawn of functions from __main__, which crash."""
    return Results(environment.collect(), [notebook_comparison(0.01, repeats=2, warmup=1)])
