"""What machine and interpreter a measurement was made on."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import sysconfig
from typing import Any


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
    import platform  # here: conlab.map's auto reads usable_cpus only, as workers compute

    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """Logical CPUs this process may run on (its affinity), which is what parallelism can use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def physical_cores() -> int | None:
    """Physical cores (hyper-threads not counted), from psutil or /proc/cpuinfo."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
        if n:
            return int(n)
    except ImportError:  # pragma: no cover - bare interpreters
        pass
    cores = set()
    try:
        with open("/proc/cpuinfo") as f:
            phys = core = ""
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                    cores.add((phys, core))
    except OSError:
        return None
    return len(cores) or None


def affinity() -> list[int] | None:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return None


def memory_bytes() -> int | None:
    """Physical memory of the machine."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        try:
            import psutil

            return int(psutil.virtual_memory().total)
        except ImportError:  # pragma: no cover
            return None


# Thread counts of the numeric libraries: they decide how numpy & co. compete with our workers.
BLAS_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
)

# Libraries whose version can change a figure: backends of the strategies, numeric libraries.
LIBRARIES = ("cloudpickle", "psutil", "numpy", "dask", "distributed", "ray", "rich")


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names``, read from package metadata (nothing is imported)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def collect() -> dict[str, Any]:
    import platform

    from conlab._process import shipping
    from conlab._version import __version__

    uname = platform.uname()
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
        "physical_cores": physical_cores(),
        "affinity": affinity(),
        "memory_bytes": memory_bytes(),
        "os": uname.system,
        "kernel": uname.release,
        "machine": uname.machine,
        "python_build": " ".join(platform.python_build()),
        "python_compiler": platform.python_compiler(),
        "debug_build": hasattr(sys, "gettotalrefcount"),
        "blas_threads": {k: os.environ[k] for k in BLAS_VARIABLES if k in os.environ},
        "libraries": library_versions(),
    }
