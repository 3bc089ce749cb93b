"""One cell of the fault matrix, run by this interpreter: ``python -m tests.faults.cell SPEC FAULT``.

test_matrix.py runs a cell so when its strategy cannot run under pytest's Python
but can under another (subinterpreters need 3.13), where neither pytest nor
psutil is installed. SPEC is the JSON of (name, workers, options); FAULT is a
fault's name. Prints one JSON line: the outcome (passed, failed or skipped),
why, and this Python's version.
"""

from __future__ import annotations

import json
import platform
import sys
import traceback

from tests.faults.faults import FAULTS, run_cell, strategy_for


def outcome(spec: tuple, fault_name: str) -> tuple[str, str]:
    """``(passed | failed | skipped, why)`` of the cell."""
    fault = next(f for f in FAULTS if f.name == fault_name)
    strategy = strategy_for(spec, fault)
    if reason := strategy.unavailable_reason():
        return "skipped", f"{strategy.name} cannot run under this Python either: {reason}"
    try:
        run_cell(strategy, fault)
    except AssertionError:
        return "failed", traceback.format_exc()
    return "passed", ""


def main(argv: list[str]) -> int:
    spec, fault_name = json.loads(argv[0]), argv[1]
    status, why = outcome(spec, fault_name)
    print(json.dumps({"outcome": status, "why": why, "python": platform.python_version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
