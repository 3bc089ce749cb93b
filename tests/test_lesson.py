"""The lesson's notebook failure, and conlab's way past it, in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conlab.lesson import notebook as lesson
from tests.helpers import SRC

# A __main__ with no file, like a notebook's: a spawned child cannot import it.
MAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys


    def triple(x):
        print("tripling", x)
        return 3 * x


    if __name__ == "__main__":
        from conlab.model import Task
        from conlab.strategies import make

        out = {}
        for spec in [("processes", None), ("process-pool", 2)]:
            strategy = make(spec[0], spec[1], start_method="spawn")
            records = strategy.run([Task(triple, (i,)) for i in range(3)]).records
            out[spec[0]] = [[r.status, r.result, r.output, r.error] for r in records]
        print(json.dumps(out))
    """
)


def test_a_main_defined_function_runs_under_spawn_through_conlab():
    proc = subprocess.run(
        [sys.executable, "-c", MAIN_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("processes", "process-pool"):
        assert out[name] == [["ok", 3 * i, f"tripling {i}\n", None] for i in range(3)], name


def test_the_notebook_crash_is_reported_as_crashed_with_the_childs_error():
    comparison = lesson.notebook_comparison(sleep_s=0.01, repeats=1, warmup=0)
    plain = next(r for r in comparison.runs if r.options.get("plain"))
    shipped = next(
        r for r in comparison.runs if r.strategy == "processes" and not r.options.get("plain")
    )

    assert plain.status == "failed" and plain.speedup is None
    assert all(t.status == "crashed" and t.exit_code == 1 for t in plain.records)
    expected = "AttributeError: Can't get attribute 'calc_square' on <module '__main__' (built-in)>"
    assert expected in plain.records[0].error
    assert "exit code 1" in plain.records[0].error
    # What a plain time.time() said: far below the 0.04 s the work needs with two workers.
    assert plain.naive_wall_s is not None and plain.naive_wall_s < 0.04 + 1.0

    assert shipped.status == "ok", shipped.reason
    assert shipped.speedup is not None
    assert [t.output.splitlines()[-1] for t in shipped.records] == ["square : 81", "cube : 729"]
