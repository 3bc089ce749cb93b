"""conlab's own children started by spawn or forkserver without the user's script run again.

multiprocessing imports ``__main__`` in such a child from its ``__spec__`` or ``__file__``. A
script without an ``if __name__ == "__main__":`` guard then runs its whole top level again in
each child: a script calling ``conlab.advise`` or ``conlab.explain`` ran itself 5 times, and a
loop over ``lesson.measure`` nested without end (each child measuring the lesson anew). The
children conlab starts for itself (no-op tasks pricing a strategy, the lesson's experiments)
run conlab's own functions and need nothing from ``__main__``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.RLock()


@contextlib.contextmanager
def main_not_imported_again() -> Iterator[None]:
    """While open, children started by spawn or forkserver do not import ``__main__``."""
    main = sys.modules.get("__main__")
    with _lock:
        saved: dict[str, Any] = {
            k: main.__dict__[k] for k in ("__file__", "__spec__") if main and k in main.__dict__
        }
        if main is None or not saved:
            yield
            return
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.update(saved)
