"""What the live descendants of this process used: the processes a run started that are still
alive hold CPU time that is in none of this process's figures yet (a forkserver's workers are
the forkserver's children), and the probe counts it as the run's, not other processes'.
"""

from __future__ import annotations

import os

from conlab.measure import sampler
from conlab.measure.cpu import pid_tree_cpu_s

Descendants = dict[int, tuple[float, float]]


def descendants_cpu_s() -> Descendants:
    """Every live descendant of this process (samplers left out) with its CPU seconds: its
    own, and its reaped children's (pid_tree_cpu_s); none without /proc."""
    found: Descendants = {}
    frontier = [os.getpid()]
    while frontier:
        children = []
        for parent in frontier:
            for pid in sampler.children(parent):
                if not sampler.is_sampler(pid) and (cpu := pid_tree_cpu_s(pid)) is not None:
                    found[pid] = cpu
                    children.append(pid)
        frontier = children
    return found


def descendants_used_s(before: Descendants, after: Descendants) -> float:
    """CPU seconds the descendants used between two listings, beyond this process's own figures.

    A process started in between counts whole (with what it reaped): a forkserver's workers
    (the forkserver's children, so in no figure of this process until it is reaped), a pool's.
    One that was there before counts only the children it reaped in between: it may be anything
    of the user's (a test's spinner, a notebook's server), not the run's work. With
    tree_cpu_s, which takes a child this process reaps whole, the run's processes are counted
    once wherever they end.
    """
    used = 0.0
    for pid, (own, reaped) in after.items():
        if pid in before:
            used += max(0.0, reaped - before[pid][1])
        else:
            used += own + reaped
    return used
