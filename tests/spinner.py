"""A one-core pure-Python spinner process, started and stopped by a test: noise it makes itself."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

SPIN_FOREVER = "while True: pass"


@contextlib.contextmanager
def spinner() -> Iterator[subprocess.Popen[bytes]]:
    """One process spinning on one core for as long as the block runs, then killed and reaped."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN_FOREVER], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.2)  # running, not starting, when the block measures
        yield proc
    finally:
        proc.kill()
        proc.wait()
