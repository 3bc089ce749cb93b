"""Run under a free-threaded CPython (tests/test_freethreaded_suite.py): conlab's in-process
strategies, whose threads there really run at once, on workloads that print, wait and compute.

Every run must be verified (every task ok, every result equal to the sequential
reference), every task's captured output its own (a race in conlab's capture or
its records would mix them), and the GIL must stay off. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys

from conlab import api
from conlab.measure import gil
from conlab.model import Task, Workload

STRATEGIES = ["threads", "thread-pool:2", "thread-pool:3", "thread-pool:8", "asyncio"]


def chatty(k: int, lines: int) -> int:
    """Prints ``lines`` lines naming its task, computing between them: output to be kept apart."""
    total = 0
    for i in range(lines):
        total += sum(range(2_000 * (k + 1)))
        print(f"task {k} line {i}")
    return total


def chatty_workload(tasks: int = 16, lines: int = 50) -> Workload:
    return Workload(
        name="chatty",
        kind="cpu",
        tasks=[Task(chatty, (k, lines), name=f"chatty[{k}]") for k in range(tasks)],
    )


def check(comparison, rounds_ok: list[str], problems: list[str], own_output: bool) -> None:
    for run in comparison.runs:
        label = f"{comparison.workload} {run.label}"
        if run.status != "ok":
            problems.append(f"{label}: {run.status}: {run.reason}")
            continue
        if gil.came_back(run.gil):
            problems.append(f"{label}: the GIL came back: {run.gil}")
        for rec in run.records:
            k = rec.index
            if own_output and rec.output != "".join(f"task {k} line {i}\n" for i in range(50)):
                problems.append(f"{label}: task {k}'s output is not its own: {rec.output[:80]!r}")
        rounds_ok.append(label)


def main() -> int:
    assert gil.FREE_THREADED_BUILD and not gil.gil_enabled(), "run this under a free-threaded build"
    gil.watch()
    ok: list[str] = []
    problems: list[str] = []
    cases = [
        ("seed", {"sleep_s": 0.02}),
        ("cpu", {"tasks": 8, "size": 0.1}),
        ("text", {"tasks": 8, "size": 0.1}),
    ]
    for name, params in cases:
        # Only the seed workload has an async variant for asyncio.
        strategies = STRATEGIES if name == "seed" else STRATEGIES[:-1]
        c = api.compare(name, strategies=strategies, params=params, repeats=2, warmup=1)
        check(c, ok, problems, own_output=False)
    for isolate in (False, True):
        c = api.compare(
            chatty_workload(), strategies=STRATEGIES[:-1], repeats=2, warmup=0, isolate=isolate
        )
        check(c, ok, problems, own_output=True)
    print(json.dumps({"verified": ok, "problems": problems, "gil_enabled": gil.gil_enabled()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
