"""How far the lab measures contended runs again, and which repeats it keeps.

A contended repeat (measure/contention.py) is set aside only for an uncontended
one measured in an extra round; the extra rounds are bounded by a count (as many
as the repeats asked, by default) and a time limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from conlab.errors import UsageError
from conlab.model import Contention

# Contended runs are measured again for at most this long by default (and at most as many extra
# rounds as were asked).
REMEASURE_S = 30.0


class _Timed(Protocol):
    warmup: bool
    machine: Contention


S = TypeVar("S", bound=_Timed)


@dataclass(frozen=True)
class Remeasure:
    """How far contended runs are measured again: extra rounds (None: as many as asked) and
    seconds."""

    max_rounds: int | None = None
    max_s: float = REMEASURE_S


def check_remeasure(bound: Remeasure) -> None:
    rounds = bound.max_rounds
    if rounds is not None and (
        isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0
    ):
        raise UsageError(
            f"the extra rounds for contended runs must be a whole number of at least 0, not {rounds!r}"
        )
    if (
        isinstance(bound.max_s, bool)
        or not isinstance(bound.max_s, (int, float))
        or not bound.max_s >= 0
    ):
        raise UsageError(
            f"the time limit for re-measuring must be a number of seconds of at least 0, not {bound.max_s!r}"
        )


def kept(samples: list[S], repeats: int) -> tuple[list[S], list[S]]:
    """The timed samples kept (uncontended first, in order) and those set aside: a contended
    sample is set aside only for an uncontended one measured in an extra round."""
    timed = [s for s in samples if not s.warmup]
    if len(timed) <= repeats:
        return timed, []
    calm = [s for s in timed if not s.machine.contended]
    busy = [s for s in timed if s.machine.contended]
    keep = calm[:repeats] + busy[: max(0, repeats - len(calm))]
    chosen = [s for s in timed if any(s is k for k in keep)]
    return chosen, [s for s in timed if not any(s is k for k in keep)]
