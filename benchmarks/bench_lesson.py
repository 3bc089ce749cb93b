"""The lesson's figures on this machine: conlab against the same code written by hand.

Part 1 (real 0.2 s sleeps): sequential 1.6 s; every concurrent strategy within
15 ms of 0.8 s (start-up reported apart); no strategy's overhead over the floor
more than 2 ms above the hand-written stdlib code timed over the same window,
in the same run. Part 2 (pure-Python CPU work): process-pool speed-up >= 1.8x,
thread-pool within 0.9-1.1x of sequential.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from conlab.lab.compare import compare
from conlab.strategies import make
from conlab.workloads import build
from conlab.workloads.seed import NUMBERS, calc_cube, calc_square

REPEATS = 5
SLEEP_S = 0.2
FLOOR_1, FLOOR_2 = 8 * SLEEP_S, 4 * SLEEP_S


class quiet_stdout:
    """The hand-written runs print, as the lesson's code does, to /dev/null.

    One swap of sys.stdout around the whole round, in the main thread: swapping it
    per thread (contextlib.redirect_stdout inside each) would tangle the threads'
    saved streams, which is the lesson's interleaving problem in another form.
    """

    def __enter__(self):
        import os

        self.saved, sys.stdout = sys.stdout, open(os.devnull, "w")

    def __exit__(self, *exc):
        sys.stdout.close()
        sys.stdout = self.saved


def hand_sequential() -> float:
    t = time.perf_counter()
    calc_square(NUMBERS, SLEEP_S)
    calc_cube(NUMBERS, SLEEP_S)
    return time.perf_counter() - t


def hand_threads() -> float:
    t = time.perf_counter()
    threads = [
        threading.Thread(target=f, args=(NUMBERS, SLEEP_S)) for f in (calc_square, calc_cube)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t


def hand_thread_pool(workers: int) -> float:
    with ThreadPoolExecutor(workers) as pool:
        list(
            pool.map(time.sleep, [0.01] * workers)
        )  # threads started before the clock, as conlab does
        t = time.perf_counter()
        futures = [pool.submit(f, NUMBERS, SLEEP_S) for f in (calc_square, calc_cube)]
        for f in futures:
            f.result()
        return time.perf_counter() - t


def _child(go, fn, args):
    go.wait()
    fn(*args)


def hand_processes() -> float:
    """Children started, then released at once: the same window as conlab's wall time."""
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [
        ctx.Process(target=_child, args=(go, f, (NUMBERS, SLEEP_S)))
        for f in (calc_square, calc_cube)
    ]
    for p in procs:
        p.start()
    time.sleep(0.05)
    t = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    return time.perf_counter() - t


def hand_process_pool() -> float:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(time.sleep, [0.05, 0.05]))
        t = time.perf_counter()
        futures = [
            pool.submit(calc_square, NUMBERS, SLEEP_S),
            pool.submit(calc_cube, NUMBERS, SLEEP_S),
        ]
        for f in futures:
            f.result()
        return time.perf_counter() - t


HAND = {
    "sequential:1": hand_sequential,
    "threads:2": hand_threads,
    "thread-pool:2": lambda: hand_thread_pool(2),
    "thread-pool:3": lambda: hand_thread_pool(3),
    "processes:2": hand_processes,
    "process-pool:2": hand_process_pool,
}


def part1() -> bool:
    strategies = [
        make("threads"),
        make("thread-pool", 2),
        make("thread-pool", 3),
        make("processes", start_method="fork"),
        make("process-pool", 2, start_method="fork"),
    ]
    hand: dict[str, list[float]] = {k: [] for k in HAND}
    conlab_runs = None
    # Alternate: one conlab round of every strategy, then one hand-written round.
    for _ in range(REPEATS):
        comparison = compare(build("seed"), strategies, repeats=1, warmup=0)
        if conlab_runs is None:
            conlab_runs = {r.label: r for r in comparison.runs}
        else:
            for r in comparison.runs:
                conlab_runs[r.label].wall_s += r.wall_s
                conlab_runs[r.label].startup_s += r.startup_s
        with quiet_stdout():
            for label, fn in HAND.items():
                hand[label].append(fn())
    ok = True
    print(
        "| strategy | conlab wall (median) | hand-written wall | floor | conlab over floor | hand over floor "
        "| start-up (apart) | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, run in conlab_runs.items():
        floor = FLOOR_1 if label == "sequential:1" else FLOOR_2
        c, h = statistics.median(run.wall_s), statistics.median(hand[label])
        c_over, h_over = c - floor, h - floor
        within = abs(c - floor) <= 0.015
        close = c_over <= h_over + 0.002
        good = run.status == "ok" and within and close
        ok &= good
        startup = f"{statistics.median(run.startup_s) * 1000:.1f} ms" if run.startup_s else "—"
        print(
            f"| {label} | {c:.4f} s | {h:.4f} s | {floor:.1f} s | {c_over * 1000:+.1f} ms | {h_over * 1000:+.1f} ms "
            f"| {startup} | {'met' if good else 'MISSED'} |"
        )
    return ok


def part2() -> bool:
    import os

    cores = len(os.sched_getaffinity(0))
    comparison = compare(
        build("cpu"),
        [make("thread-pool", cores), make("process-pool", cores, start_method="fork")],
        repeats=REPEATS,
        warmup=1,
    )
    tp, pp = comparison.run("thread-pool"), comparison.run("process-pool")
    seq = comparison.run("sequential")
    good_pp = pp.status == "ok" and pp.speedup is not None and pp.speedup >= 1.8
    good_tp = tp.status == "ok" and tp.speedup is not None and 0.9 <= tp.speedup <= 1.1
    print(
        f"\n| cpu workload ({comparison.tasks} tasks, {cores} workers) | wall (median) | speed-up | target |"
    )
    print("|---|---|---|---|")
    print(f"| sequential | {seq.median_wall_s:.3f} s | 1.00× | |")
    print(
        f"| thread-pool | {tp.median_wall_s:.3f} s | {tp.speedup:.2f}× | 0.9–1.1×: {'met' if good_tp else 'MISSED'} |"
    )
    print(
        f"| process-pool | {pp.median_wall_s:.3f} s | {pp.speedup:.2f}× | ≥ 1.8×: {'met' if good_pp else 'MISSED'} |"
    )
    return good_pp and good_tp


if __name__ == "__main__":
    results = [part1(), part2()]
    sys.exit(0 if all(results) else 1)
