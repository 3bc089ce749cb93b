"""Advice backed by evidence: probe a workload, predict every strategy, recommend, verify.

``advise(workload)`` probes a small sample (advice.probe), prices every
strategy's start-up and dispatch on this machine (advice.calibrate), predicts
the wall time of every strategy and worker count with a one-paragraph model
(advice.predict, whose MODEL says it all), recommends the fastest and, unless
told not to, runs the recommendation and the runner-up on the whole workload
to show predicted against measured. The verification decides: its capacity is
measured again first (the machine's, now), and when it measures another
candidate faster beyond the noise, that one is recommended and the advice says
the prediction was wrong, and by how much.

The package imports none of it until a name is used (PEP 562): conlab.map's
auto choice imports the model (advice.profile, .predict, .words) while its
first items run, on CPUs those items keep busy, and every millisecond of
import there is taken from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conlab._lazy import lazy_getattr

if TYPE_CHECKING:
    from conlab.advice.advising import (
        MODEL,
        Advice,
        Prediction,
        TaskProbe,
        Verified,
        advise,
        strategy_for,
    )

__all__ = ["MODEL", "Advice", "Prediction", "TaskProbe", "Verified", "advise", "strategy_for"]

__getattr__ = lazy_getattr(__name__, dict.fromkeys(__all__, "conlab.advice.advising"))
