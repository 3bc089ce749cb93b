"""The benchmarks' own noise: the quiet machine, or a one-core pure-Python spinner they start."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

CONDITIONS = ("quiet", "spinner")


@contextlib.contextmanager
def condition(name: str) -> Iterator[None]:
    """Nothing for the quiet machine; a one-core pure-Python spinner process for the other."""
    if name == "quiet":
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        yield
    finally:
        proc.kill()
        proc.wait()
