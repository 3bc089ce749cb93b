"""SIGTERM and SIGHUP end a command as Ctrl-C does: children stopped, what completed written.

``timeout``, a CI runner, a closed terminal and a stopped container send SIGTERM
or SIGHUP, not SIGINT. While a command runs, either raises KeyboardInterrupt in
the main thread, so that it takes the path Ctrl-C takes (every strategy stops
its children, the result file is written marked incomplete); the command then
exits with 128 + the signal's number, as a shell reports it: 130 for SIGINT,
143 for SIGTERM, 129 for SIGHUP. A second such signal ends conlab at once. Where the
KeyboardInterrupt, or a Ctrl-C's, lands in code whose exceptions Python ignores (an
at-fork hook runs around every fork), it is delivered again rather than lost.

A forked child (a sandbox, a pool's worker) gets the default handlers back, so
that ``Process.terminate()`` still ends it rather than raise inside a task.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_WORDS = {"SIGINT": "interrupted", "SIGTERM": "terminated", "SIGHUP": "hung up"}

received: int | None = None  # the ending signal that came, if any


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global received
    if received is not None:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # the second one: no more cleaning up
        return
    received = signum
    from conlab._process.execute import interrupt_arrived

    interrupt_arrived()  # so that a task running here does not take it for its own
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _swallowed(unraisable: sys.UnraisableHookArgs) -> None:
    """Our KeyboardInterrupt, or a SIGINT's, raised where Python ignores exceptions (an at-fork
    hook, such as logging's lock release around a fork, or a finalizer) is delivered again,
    until it lands where the command can stop; anything else goes to the hook that was there
    before.
    """
    global received
    signum = _signal_of(unraisable.exc_value)
    if signum is None:
        _previous_hook(unraisable)
        return
    if signum == received:
        received = None  # the same signal again, taken as the first: the path Ctrl-C takes
    # From another thread, a moment later: sent from here, it would run the handler at
    # once, in this hook, where its exception is ignored too.
    threading.Thread(target=_redeliver, args=(signum,), daemon=True).start()


def _signal_of(exc: BaseException | None) -> int | None:
    """The signal that raised ``exc``, when it is a SIGINT's KeyboardInterrupt or ours."""
    from conlab._process.execute import is_sigint

    if is_sigint(exc):
        return signal.SIGINT
    if (
        isinstance(exc, KeyboardInterrupt)
        and received is not None
        and exc.args == (signal.Signals(received).name,)
    ):
        return received
    return None


def _redeliver(signum: int) -> None:
    time.sleep(REDELIVER_S)
    os.kill(os.getpid(), signum)


REDELIVER_S = 0.01
_previous_hook = sys.unraisablehook


def _defaults() -> None:
    if sys.unraisablehook is _swallowed:
        sys.unraisablehook = _previous_hook
    for signum in ENDING:
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, signal.SIG_DFL)


@contextlib.contextmanager
def ending_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt in this (the main) thread meanwhile."""
    global received
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a caller there owns the signals
        return
    global _previous_hook
    received = None
    saved = {signum: signal.getsignal(signum) for signum in ENDING}
    for signum in ENDING:
        signal.signal(signum, _on_signal)
    hook = sys.unraisablehook
    if hook is not _swallowed:  # a command run by a command: the hook before both stays last
        _previous_hook = hook
    sys.unraisablehook = _swallowed
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def exit_code() -> int:
    """128 + the signal that ended the command (SIGINT when none of ours came)."""
    return 128 + (received if received is not None else signal.SIGINT)


def what_happened() -> str:
    """``interrupted``, ``terminated (SIGTERM)``, ``hung up (SIGHUP)``."""
    if received is None:
        return _WORDS["SIGINT"]
    name = signal.Signals(received).name
    return f"{_WORDS.get(name, 'stopped')} ({name})"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_defaults)
