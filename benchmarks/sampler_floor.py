"""How far conlab's sampler process is from the least a Python sampler can cost here.

A diagnostic for bench_probes (issue 3), not a target. Two sampler processes
measure this process's tree side by side, under the same load: conlab's
(src/conlab/measure/sampler.py) and the least sampler of the same protocol,
which only wakes at the same rate and reads one statm file (no descendants, no
USS, no budgets). Each round they sample a thread pool of 100,000 trivial tasks,
then two idle seconds, started in turn first and second; the figures are each
sampler's CPU time over the wall time, medians over the rounds.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/sampler_floor.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from bench_probes import WORKERS, trivial

from conlab.measure import sampler
from conlab.model import Task
from conlab.strategies import make

TASKS = 100_000
ROUNDS = 8

# The least sampler: the sampler process's protocol, one pread of the root's statm a sample.
LEAST = """
import os, select, sys, time
root, interval = int(sys.argv[2]), float(sys.argv[3])
fd = os.open(f"/proc/{root}/statm", os.O_RDONLY)
pread, wait, perf, watch, nothing = os.pread, select.select, time.perf_counter, [0], []
sampling, due, peak, samples, cpu0 = False, 0.0, 0, 0, 0.0
while True:
    delay = max(0.0, due - perf()) if sampling else 0.5
    if wait(watch, nothing, nothing, delay)[0]:
        line = os.read(0, 4096).strip()
        if line == b"start":
            sampling, due, peak, samples = True, perf() + interval, 0, 0
            cpu0 = time.process_time()
            os.write(1, b"ready 0\\n")
        elif line == b"stop":
            sampling = False
            cpu = time.process_time() - cpu0
            os.write(1, b"result %d %d -1 %.6f\\n" % (samples, peak, cpu))
        else:
            break
        continue
    rss = int(pread(fd, 64, 0).split()[1])
    samples += 1
    peak = max(peak, rss)
    due += interval
"""


def start(code: list[str]) -> subprocess.Popen[bytes]:
    argv = [*code, sampler.MARKER, str(os.getpid()), repr(sampler.SAMPLE_INTERVAL_S)]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)


def ask(proc: subprocess.Popen[bytes], command: bytes) -> list[bytes]:
    assert proc.stdin is not None and proc.stdout is not None
    os.write(proc.stdin.fileno(), command + b"\n")
    return proc.stdout.readline().split()


def shares(procs: list[subprocess.Popen[bytes]], order: list[int], work) -> list[float]:
    """Each sampler's CPU share of a core while ``work()`` runs."""
    for i in order:
        ask(procs[i], b"start")
    t0 = time.perf_counter()
    work()
    wall = time.perf_counter() - t0
    return [float(ask(p, b"stop")[4]) / wall for p in procs]


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else ROUNDS
    tasks = [Task(trivial, (x,)) for x in range(TASKS)]
    names = ["conlab's sampler", "the least sampler"]
    procs = [
        start([sys.executable, "-S", "-E", sampler.__file__]),
        start([sys.executable, "-S", "-E", "-c", LEAST]),
    ]
    busy: list[list[float]] = [[], []]
    idle: list[list[float]] = [[], []]
    try:
        time.sleep(0.3)
        for k in range(rounds):
            order = [k % 2, 1 - k % 2]
            for i, share in enumerate(
                shares(procs, order, lambda: make("thread-pool", WORKERS).run(tasks))
            ):
                busy[i].append(share)
            for i, share in enumerate(shares(procs, order, lambda: time.sleep(2.0))):
                idle[i].append(share)
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()
    print(f"{rounds} rounds: {TASKS:,} trivial tasks in a thread pool, then 2 s idle (medians)\n")
    print("| sampler | CPU, during the pool | CPU, idle |")
    print("| --- | ---: | ---: |")
    for i, name in enumerate(names):
        print(f"| {name} | {statistics.median(busy[i]):.2%} | {statistics.median(idle[i]):.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
