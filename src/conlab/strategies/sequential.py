"""A plain loop: the reference every other strategy is compared with."""

from __future__ import annotations

import time
from collections.abc import Sequence

from conlab._process import capture
from conlab._process.execute import execute
from conlab.measure.tree import self_cpu_s
from conlab.model import Task
from conlab.strategies.base import SEQUENTIAL, Execution, Strategy


class SequentialStrategy(Strategy):
    name = "sequential"
    family = SEQUENTIAL
    description = "a plain loop, one task after the other"

    def workers_for(self, n_tasks: int) -> int:
        return 1

    def run(self, tasks: Sequence[Task]) -> Execution:
        with capture.routed():
            cpu0 = self_cpu_s()
            t0 = time.perf_counter_ns()
            records = [execute(task, i) for i, task in enumerate(tasks)]
            t1 = time.perf_counter_ns()
            cpu = self_cpu_s() - cpu0
        return Execution(records, t0, t1, cpu_s=cpu)
