"""Per-item CPU time of a CPU-bound loop in conlab's workers and in Pool.map's, per vCPU,
with each worker's memory layout as its pool left it ("plain") and shuffled ("shuffled").

Each round runs the four cases (conlab / Pool.map, plain / shuffled: 8 items of 0.25 s on
2 workers, each case in a fresh interpreter) in a new order; a round counts when two spinners
got at least 1.6 cores' worth just before and after it. Each item notes the vCPU it started
and ended on; only items that stayed on one are compared, and only with items on the same
vCPU in the same round: this VM's two vCPUs differ in speed by 4-16 %, the faster one
changing from minute to minute, which would otherwise swamp a few per cent.

    flock -x /tmp/conlab-quiet.lock .venv/bin/python benchmarks/layout_pools.py [--rounds 14]

On 2026-12-05, conlab / Pool.map CPU time per item (vCPU 0, vCPU 1), five runs of 14 rounds
(the first two from this script's scratch form): plain 1.042 1.081, 1.065 1.028, 1.055 1.012,
0.997 1.005, 1.011 1.057; shuffled 1.007 0.997, 0.968 0.996, 1.046 1.013, 1.020 1.005, 0.998
1.036. A run moves by a few per cent; over the runs, plain about 1.04, shuffled about 1.005.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from typing import Any

from bench_engine_auto import (
    MIN_CAPACITY,
    Capacity,
    _import_conlab,
    _shuffled_layout,
    calibrate_loops,
    spin,
)

CASES = ("conlab", "Pool.map", "conlab shuffled", "Pool.map shuffled")
_kept: list[Any] = []


def _vcpu() -> int:
    with open("/proc/self/stat", "rb") as f:
        return int(f.read().rpartition(b")")[2].split()[36])  # field 39, "processor"


def timed(loops: int) -> tuple[float, int, int]:
    """CPU ms of spin(loops) here, and the vCPU it started and ended on."""
    if os.environ.get("SHUFFLE") and not _kept:
        _kept.append(_shuffled_layout())
    start = _vcpu()
    t0 = time.thread_time_ns()
    spin(loops)
    return (time.thread_time_ns() - t0) / 1e6, start, _vcpu()


def _case(name: str, loops: int) -> None:
    work = [loops] * 8
    spin(loops)  # as the benchmark's parent does before the call
    if name.startswith("conlab"):
        conlab = _import_conlab()
        got = list(conlab.map(timed, work, strategy="processes"))
    else:
        with multiprocessing.Pool(2) as pool:
            got = pool.map(timed, work, chunksize=1)
    print(json.dumps(got))


def _run(name: str, loops: int, env: dict[str, str]) -> list[list[float]]:
    env = dict(env, SHUFFLE="1") if name.endswith("shuffled") else env
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, str(loops)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def main(rounds: int) -> None:
    loops = calibrate_loops()
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", "/tmp/conlab-bench-pycache")
    ratios: dict[tuple[str, int], list[float]] = {
        (how, v): [] for how in ("plain", "shuffled") for v in (0, 1)
    }
    capacity = Capacity()
    attempt = counted = 0
    while counted < rounds and attempt < 3 * rounds:
        attempt += 1
        before = capacity.now()
        runs = {c: _run(c, loops, env) for c in random.Random(attempt).sample(CASES, len(CASES))}
        if min(before, capacity.now()) < MIN_CAPACITY:
            continue
        counted += 1
        for how, suffix in (("plain", ""), ("shuffled", " shuffled")):
            for v in (0, 1):
                ours = [ms for ms, a, b in runs["conlab" + suffix] if a == b == v]
                pools = [ms for ms, a, b in runs["Pool.map" + suffix] if a == b == v]
                if ours and pools:
                    ratios[(how, v)].append(statistics.mean(ours) / statistics.mean(pools))
    print(f"{counted} rounds counted of {attempt}; conlab / Pool.map, CPU time per item:")
    for (how, v), values in ratios.items():
        if values:
            print(f"  {how}, vCPU {v}: median {statistics.median(values):.4f} ({len(values)})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        _case(sys.argv[2], int(sys.argv[3]))
        sys.exit()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=14)
    main(parser.parse_args().rounds)
