"""Run conlab's benchmarks: every benchmarks/bench_*.py, one after the other.

Each benchmark is a script that measures conlab against the same work written
by hand (or against peer libraries) in the same run, prints a Markdown table
of its figures, and exits non-zero when a target of its issue is missed.
Timing measurements must not overlap on a 2-core machine, so they run one at a
time, under a lock that tests and other benchmarks also take.

    python benchmarks/run.py [NAME ...]      # default: all
"""

from __future__ import annotations

import fcntl
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK = "/tmp/conlab-cpu.lock"


def main(argv: list[str]) -> int:
    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    if argv:
        scripts = [s for s in scripts if any(name in os.path.basename(s) for name in argv)]
    if not scripts:
        print("no benchmark matches", " ".join(argv), file=sys.stderr)
        return 2
    failed = []
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for script in scripts:
            name = os.path.basename(script)[len("bench_") : -3]
            print(f"\n## {name}\n", flush=True)
            t = time.perf_counter()
            code = subprocess.call([sys.executable, script], cwd=os.path.dirname(HERE))
            print(f"\n({name}: {time.perf_counter() - t:.0f} s, exit {code})", flush=True)
            if code:
                failed.append(name)
    if failed:
        print(f"\ntargets missed in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
