"""numpy matrix products, BLAS pinned to one thread: C code that releases the GIL.

BLAS would otherwise use every core by itself inside one task, and the
comparison would measure BLAS's threads instead of the strategy's.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
from collections.abc import Iterator
from typing import Any

from conlab.model import Task, Workload
from conlab.workloads.params import at_least

INSTALL_HINT = "pip install 'conlab[numpy]'"
_pinned_pid: int | None = None


def unavailable_reason() -> str | None:
    missing = [m for m in ("numpy", "threadpoolctl") if importlib.util.find_spec(m) is None]
    if missing:
        return f"needs {' and '.join(missing)}: {INSTALL_HINT}"
    return None


def _pin_blas() -> None:
    """One BLAS thread in this process, from now on (worker processes keep it until they exit)."""
    global _pinned_pid
    if _pinned_pid != os.getpid():
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _pinned_pid = os.getpid()


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """One BLAS thread in this process while the comparison runs; restored afterwards."""
    global _pinned_pid
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        _pinned_pid = os.getpid()
        try:
            yield
        finally:
            _pinned_pid = None


def _matrices(seed: int, n: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)), rng.standard_normal((n, n))


def products(seed: int, n: int, rounds: int) -> float:
    """The sum of the entries of A @ B_r, for B_r the rows of B rolled by r = 0 .. rounds-1."""
    import numpy as np

    _pin_blas()
    a, b = _matrices(seed, n)
    return float(sum(float((a @ np.roll(b, r, axis=0)).sum()) for r in range(rounds)))


def products_check(seed: int, n: int, rounds: int) -> float:
    """The same sum without multiplying: sum(A @ B) = column sums of A · row sums of B."""
    import numpy as np

    a, b = _matrices(seed, n)
    cols, rows = a.sum(axis=0), b.sum(axis=1)
    return float(sum(float(cols @ np.roll(rows, r)) for r in range(rounds)))


def _close(n: int) -> Any:
    def check(result: Any, want: Any) -> bool:
        # Rounding in n³ multiply-adds; a wrong product is off by about n^1.5.
        return isinstance(result, float) and math.isclose(result, want, abs_tol=1e-9 * n**3)

    return check


def workload(tasks: int | None = None, n: int = 512, rounds: int = 10) -> Workload:
    """``tasks`` tasks (4 × cores by default), each ``rounds`` products of two ``n``×``n`` matrices."""
    owner = "the numpy workload"
    count = tasks if tasks is not None else 4 * (os.cpu_count() or 1)
    at_least(owner, "tasks", count, 1)
    at_least(owner, "n", n, 1)
    at_least(owner, "rounds", rounds, 1)
    return Workload(
        name="numpy",
        kind="cpu-nogil",
        description="numpy matrix products, BLAS pinned to one thread (releases the GIL)",
        params={"tasks": count, "n": n, "rounds": rounds},
        tasks=[Task(products, (k, n, rounds), name=f"matmul[{k}]") for k in range(count)],
        expected=[products_check(k, n, rounds) for k in range(count)],
        check=_close(n),
        setup=pinned,
    )
