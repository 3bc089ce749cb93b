"""Run the fault matrix and write its table into README's Reliability section.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/reliability.py

The table lists every fault tried against every strategy and start method, and
whether the run survived it, as tests/faults/test_matrix.py found: each cell is
one ``conlab compare`` command as a user types it, without ``--isolate`` (the
command ended in time with the documented exit code and no traceback, every task
in its result file has the right status and cause, a crash names its line, no
process of the command is left). A column whose cells ran under another Python
than the suite's (through conlab's ``--python``) says which. The rest of
tests/faults (signals, bounds, hostile input) runs in the same session, as
pytest reports it; only the matrix's cells make the table.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
Cell = tuple[str, str, "bool | None", "str | None"]  # strategy, fault, survived, Python


def run_matrix() -> list[Cell]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cells.json")
        env = {**os.environ, "CONLAB_RELIABILITY_JSON": path}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/faults"]
        subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        with open(path) as f:
            return [(s, fault, ok, python) for s, fault, ok, python in json.load(f)]


def table(cells: list[Cell]) -> str:
    """None marks a strategy that cannot run on this machine (shown as n/a, not counted)."""
    skipped = sorted({s for s, _, ok, _ in cells if ok is None})
    cells = [c for c in cells if c[2] is not None]
    strategies = list(dict.fromkeys(s for s, _, _, _ in cells))
    faults = list(dict.fromkeys(f for _, f, _, _ in cells))
    ok = {(s, f): v for s, f, v, _ in cells}
    pythons = {s: python for s, _, _, python in cells if python}
    lines = [
        "| fault | " + " | ".join(_header(s, pythons.get(s)) for s in strategies) + " |",
        "| --- | " + " | ".join("---" for _ in strategies) + " |",
    ]
    for fault in faults:
        marks = ["✓" if ok.get((s, fault)) else "✗" for s in strategies]
        lines.append(f"| {fault} | " + " | ".join(marks) + " |")
    survived = sum(bool(v) for v in ok.values())
    lines.append("")
    lines.append(
        f"{survived} of {len(cells)} cells survived ({len(faults)} faults x "
        f"{len(strategies)} strategies and start methods)."
        + (f" Not available here, so not tried: {', '.join(skipped)}." if skipped else "")
        + (
            " A column marked with a Python ran its cells in a child process under that Python;"
            f" the others ran under {platform.python_version()}."
            if pythons
            else ""
        )
    )
    return "\n".join(lines)


def _header(strategy: str, python: str | None) -> str:
    return f"`{strategy}`" + (f" on {python}" if python else "")


def main() -> int:
    cells = run_matrix()
    with open(README, encoding="utf-8") as f:
        text = f.read()
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(README, "w", encoding="utf-8") as f:
        f.write(f"{head}{START}\n{table(cells)}\n{END}{tail}")
    print(table(cells))
    return 0 if all(ok is not False for _, _, ok, _ in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
