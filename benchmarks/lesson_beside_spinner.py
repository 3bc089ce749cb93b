"""How often the lesson's hashlib cells are wrong beside a one-core spinner (issue 16).

Measures the lesson's table (quick) N times, each inside tests.spinner.spinner(), and counts the
runs whose hashlib threads cell is neither a "parallel" figure nor "not shown: the machine gave
...": a busy machine must withhold a cell, never invert it. For a bad run it prints the hashing
comparison's machine records and the inputs of every judgement that found a run uncontended
although others were busy.

    PYTHONPATH=. .venv/bin/python benchmarks/lesson_beside_spinner.py [N]
"""

from __future__ import annotations

import sys
from typing import Any

from tests.spinner import spinner

from conlab.lesson import table
from conlab.measure import contention

_judge = contention.judge
_seen: list[tuple[dict[str, Any], Any]] = []


def _logged_judge(**figures: Any) -> Any:
    verdict = _judge(**figures)
    _seen.append((figures, verdict))
    return verdict


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


def main(n: int) -> int:
    contention.judge = _logged_judge  # type: ignore[assignment]
    bad = 0
    for i in range(n):
        _seen.clear()
        with spinner():
            lesson = table.measure(quick=True, start_method="fork")
        cells = {row.question: row for row in lesson.rows + lesson.extra}
        hashing = cells["C code that releases the GIL (hashlib)"]
        ok = hashing.threads.startswith(("not shown", "parallel"))
        print(f"{i} {'ok ' if ok else 'BAD'} threads: {hashing.threads} | processes: "
              f"{hashing.processes}", flush=True)  # fmt: skip
        if ok:
            continue
        bad += 1
        for figures, verdict in _seen:
            others = verdict.other_cores or 0.0
            if figures["asked_cores"] > 1 and others >= 0.25 and not verdict.contended:
                print("  judged uncontended:", _rounded(figures))
        (c,) = [c for c in lesson.comparisons() if "hashlib" in c.title]
        for run in c.runs:
            print(f"  {run.label}: speed-up {run.speedup}, wall {run.wall_s}, cpu {run.cpu_s}")
            for m in run.machine:
                print("    kept      ", _rounded(vars(m)))
            for m in run.set_aside_machine:
                print("    set aside ", _rounded(vars(m)))
    print(f"{bad} of {n} lessons beside the spinner: hashlib threads neither parallel nor withheld")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
