"""The lesson's notebook failure, reproduced as it happened, and measured honestly.

The notebook defined ``calc_square`` and ``calc_cube`` in ``__main__`` (a cell)
and handed them to ``multiprocessing.Process``. A spawned child starts a fresh
interpreter and looks the functions up by name in its own ``__main__``, which
does not have them: each child exits 1 with ``AttributeError: Can't get
attribute 'calc_square' on <module '__main__' (built-in)>``, and a plain
``time.time()`` around start() and join() reports a few hundredths of a second.

To show it, conlab runs a script with ``python -c`` (so its ``__main__`` has
no file, like a notebook's), which defines the two functions and compares the
lesson's code as written with conlab's ``processes`` strategy, both under
spawn. The child writes a result file that the caller reads back.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from conlab._process import children
from conlab.errors import ConlabError
from conlab.model import Comparison, Task, Workload
from conlab.workloads.seed import NUMBERS

TITLE = (
    "3. What the lesson's notebook hit: functions defined in __main__, children started by spawn"
)

# The lesson's cell, with the sleep as a parameter so that --quick can shorten it.
SCRIPT = """\
import time


def calc_square(numbers, sleep_s=0.2):
    print("calculate square numbers")
    out = []
    for n in numbers:
        time.sleep(sleep_s)
        print("square :", n * n)
        out.append(n * n)
    return out


def calc_cube(numbers, sleep_s=0.2):
    print("calculate cube of numbers")
    out = []
    for n in numbers:
        time.sleep(sleep_s)
        print("cube :", n * n * n)
        out.append(n * n * n)
    return out


if __name__ == "__main__":
    import sys

    from conlab.lesson.notebook import child_main

    child_main(calc_square, calc_cube, sys.argv[1:])
"""


def child_main(
    calc_square: Callable[..., Any], calc_cube: Callable[..., Any], argv: list[str]
) -> None:
    """Runs in the script's process: both ways, under spawn, into a result file."""
    from conlab import resultfile
    from conlab.lab.compare import compare
    from conlab.measure import environment
    from conlab.model import Results
    from conlab.strategies import ProcessesStrategy

    path, sleep_s, repeats, warmup = argv[0], float(argv[1]), int(argv[2]), int(argv[3])
    workload = lesson_workload(calc_square, calc_cube, sleep_s)
    comparison = compare(
        workload,
        [
            ProcessesStrategy(start_method="spawn", plain=True),
            ProcessesStrategy(start_method="spawn"),
        ],
        repeats=repeats,
        warmup=warmup,
        title=TITLE,
    )
    comparison.notes.append(
        "The plain run is the lesson's code: Process(target=calc_square), start(), join(). "
        "conlab's processes run ships the functions by value with cloudpickle and sends "
        "their output and results back."
    )
    resultfile.write(Results(environment.collect(), [comparison]), path)


def lesson_workload(
    calc_square: Callable[..., Any], calc_cube: Callable[..., Any], sleep_s: float
) -> Workload:
    kw = {"sleep_s": sleep_s}
    return Workload(
        name="seed",
        kind="io",
        description="the lesson's functions, defined in __main__",
        params={"sleep_s": sleep_s, "numbers": list(NUMBERS), "defined_in": "__main__"},
        tasks=[
            Task(calc_square, (list(NUMBERS),), kw, name="calc_square"),
            Task(calc_cube, (list(NUMBERS),), kw, name="calc_cube"),
        ],
        task_durations_s=[sleep_s * len(NUMBERS)] * 2,
        expected=[[n * n for n in NUMBERS], [n**3 for n in NUMBERS]],
    )


def notebook_comparison(
    sleep_s: float, repeats: int, warmup: int, timeout_s: float = 600
) -> Comparison:
    """Run the lesson's cell in a fresh interpreter and return what conlab measured there."""
    from conlab import resultfile

    with tempfile.TemporaryDirectory(prefix="conlab-lesson-") as tmp:
        path = os.path.join(tmp, "lesson.json")
        argv = [sys.executable, "-c", SCRIPT, path, str(sleep_s), str(repeats), str(warmup)]
        proc = children.run(argv, env=children.child_env(), timeout_s=timeout_s)
        if proc.returncode != 0 or not os.path.exists(path):
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            raise ConlabError(
                "could not reproduce the lesson's notebook in a fresh interpreter "
                f"(exit {proc.returncode}): {lines[-1] if lines else 'no output'}"
            )
        return resultfile.load(path).comparisons[0]
