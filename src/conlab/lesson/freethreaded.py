"""The lesson's free-threaded row: pure Python in two threads, GIL build and free-threaded build.

When this machine has a free-threaded CPython (``make pythons`` builds 3.13.5t;
pyenv's and PATH's count too) and a build of the same version with the GIL, the
same comparison (the ``cpu`` workload, sequential and thread-pool:2) runs under
each, in a child interpreter running conlab from this source, measured by the
lab as any other (contended runs measured again, what stays contended marked).
From them: each build's speed-up in two threads, side by side; the free-threaded
build's single-thread cost (its sequential run against the GIL build's); and
its memory per thread. Whether the GIL came back during the run is read from
the run's own record (measure/gil.py).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from dataclasses import dataclass

from conlab import resultfile
from conlab._process import children, pythons
from conlab.measure import contention, gil
from conlab.measure.units import duration
from conlab.model import RUN_OK, Comparison, Run

THREADS = 2
TIMEOUT_S = 600.0


@dataclass
class Build:
    """One build's figures: its label, its two-thread speed-up (None: not shown) and why not."""

    name: str
    speedup: float | None
    sequential_s: float | None
    withheld: str | None
    gil_back: list[str] | None = None


@dataclass
class FreeThreaded:
    """The row's figures: the free-threaded build and its GIL peer, measured now."""

    free: Build
    peer: Build | None
    single_thread_cost: float | None  # free-threaded sequential / the peer's, less one
    thread_bytes: int | None
    peer_thread_bytes: int | None = None


def find_pair() -> tuple[pythons.Found, pythons.Found | None] | None:
    """The newest free-threaded build found (3.13+), and a GIL build of the same version."""
    found = pythons.find_all()
    free = [f for f in found if f.free_threaded and f.version >= (3, 13)]
    if not free:
        return None
    best = max(free, key=lambda f: (f.version, f.source == "cache"))
    peers = [f for f in found if not f.free_threaded and f.version == best.version]
    peer = max(peers, key=lambda f: f.source == "cache") if peers else None
    return best, peer


def measure(cpu_size: float, repeats: int, warmup: int) -> FreeThreaded | None:
    """The row, measured under each build of the pair; None when no free-threaded build is here."""
    pair = find_pair()
    if pair is None:
        return None
    free_found, peer_found = pair
    free_c = _compare_under(free_found.path, cpu_size, repeats, warmup)
    free = _build(free_found.name, free_c)
    if peer_found is None:
        return FreeThreaded(free, None, None, _thread_bytes(free_found.path))
    peer_c = _compare_under(peer_found.path, cpu_size, repeats, warmup)
    return FreeThreaded(
        free,
        _build(peer_found.name, peer_c),
        _single_thread_cost(free_c.reference, peer_c.reference),
        _thread_bytes(free_found.path),
        _thread_bytes(peer_found.path),
    )


def _compare_under(path: str, cpu_size: float, repeats: int, warmup: int) -> Comparison:
    """``conlab compare cpu`` (sequential, thread-pool:2) run by the interpreter at ``path``."""
    fd, out = tempfile.mkstemp(prefix="conlab-lesson-", suffix=".json")
    os.close(fd)
    argv = [path, "-m", "conlab.cli.pythons", out, "compare", "cpu"]
    argv += ["--strategies", f"sequential,thread-pool:{THREADS}"]
    argv += ["--param", f"tasks={2 * THREADS}", "--param", f"size={cpu_size}"]
    argv += ["--repeats", str(repeats), "--warmup", str(warmup)]
    try:
        proc = children.run(argv, env=children.child_env(keep_path=False), timeout_s=TIMEOUT_S)
        if proc.returncode != 0:
            return Comparison("cpu", "cpu", 0, notes=[children.last_line(proc.stderr)])
        return resultfile.load(out).comparisons[0]
    except subprocess.TimeoutExpired:
        return Comparison("cpu", "cpu", 0, notes=[f"it took over {duration(TIMEOUT_S, 's', 0)}"])
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out)


def _build(name: str, c: Comparison) -> Build:
    seq = c.reference
    seq_s = seq.median_wall_s if seq is not None and seq.status == RUN_OK else None
    try:
        run = c.run("thread-pool")
    except KeyError:
        why = c.notes[0] if c.notes else "the run failed"
        return Build(name, None, None, f"failed under {name}: {why}")
    back = run.gil.get("enabled_by") if gil.came_back(run.gil) else None  # type: ignore[union-attr]
    if run.status != RUN_OK:
        return Build(name, None, seq_s, f"failed under {name}: {run.reason}", back)
    if run.speedup_contended:
        busy = run if run.contended or seq is None else seq
        return Build(name, None, seq_s, f"not shown: {contention.summary(busy.machine)}", back)
    return Build(name, run.speedup, seq_s, None, back)


def _single_thread_cost(free: Run | None, peer: Run | None) -> float | None:
    """How much slower one thread of the free-threaded build is; None when either was contended."""
    if free is None or peer is None:
        return None
    if free.status != RUN_OK or peer.status != RUN_OK or free.contended or peer.contended:
        return None
    a, b = free.median_wall_s, peer.median_wall_s
    return None if not a or not b else a / b - 1


_THREAD_MEMORY = "from conlab.lesson.experiments import thread_memory; print(thread_memory({k}))"


def _thread_bytes(path: str, workers: int = 8) -> int | None:
    """RSS per idle thread in the interpreter at ``path``."""
    code = _THREAD_MEMORY.format(k=workers)
    try:
        proc = children.run(
            [path, "-c", code], env=children.child_env(keep_path=False), timeout_s=60
        )
        return int(proc.stdout.split()[-1])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _speed(b: Build) -> str:
    return b.withheld or f"{b.speedup or 0:.2f}×"


def cell(ft: FreeThreaded | None) -> str:
    """The row's threads cell: both builds side by side, the cost, the memory per thread."""
    from conlab.measure.units import size

    if ft is None:
        return (
            "not measured: no free-threaded build found (see 'conlab pythons'; "
            "'make pythons' builds CPython 3.13.5t)"
        )
    free, peer = ft.free, ft.peer
    if free.gil_back:
        back = ", ".join(free.gil_back)
        return f"{free.name} not free-threaded in this run: {back} turned the GIL back on"
    parts = [f"{THREADS} threads: {free.name} {_speed(free)}"]
    if peer is not None:
        parts[0] += f", {peer.name} (GIL) {_speed(peer)}"
        if ft.single_thread_cost is None:
            parts.append("single-thread cost not shown (a sequential run was contended)")
        else:
            parts.append(
                f"one thread {ft.single_thread_cost:+.0%} in time on {free.name} against {peer.name}"
            )
    if ft.thread_bytes is not None:
        memory = f"{size(ft.thread_bytes)} per thread"
        if ft.peer_thread_bytes is not None and peer is not None:
            memory += f" ({size(ft.peer_thread_bytes)} on {peer.name})"
        parts.append(memory)
    return "; ".join(parts)


def rule(ft: FreeThreaded | None) -> str | None:
    """What the rule of thumb gains from the row, when it was measured and shown."""
    if ft is None or ft.free.speedup is None or ft.free.gil_back or ft.free.speedup < 1.3:
        return None
    cost = ft.single_thread_cost
    at = f", at a single-thread cost of {cost:.0%}" if cost is not None else ""
    return (
        "on a free-threaded build, threads for computing too: "
        f"{ft.free.speedup:.2f}× here ({ft.free.name}){at}"
    )
