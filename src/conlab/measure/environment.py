"""What machine and interpreter a measurement was made on."""

from __future__ import annotations

import multiprocessing
import os
import platform
import socket
import sys
import sysconfig
from typing import Any

from conlab.strategies import shipping


def gil_enabled() -> bool:
    """False on a free-threaded build running without the GIL."""
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check is not None else True


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """Logical CPUs this process may run on (its affinity), which is what parallelism can use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def collect() -> dict[str, Any]:
    from conlab import __version__

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": gil_enabled(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "default_start_method": multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_all_start_methods()[0],
        "pickler": shipping.PICKLER,
        "conlab": __version__,
    }
