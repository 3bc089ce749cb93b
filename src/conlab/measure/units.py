"""Durations and sizes as text, each with its unit: how every part of conlab writes them.

It sits with the instruments, the lowest layer that writes a figure (the noise
warnings), so that the advice, the lesson and the reports all use it.
"""

from __future__ import annotations

MISSING = "—"
SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}
# Sizes in binary units, named as IEC 80000-13 names them: 50,000,000 bytes is 47.7 MiB.
BYTES_PER_UNIT = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def duration(
    seconds: float | None, unit: str | None = None, digits: int | None = None, sign: bool = False
) -> str:
    """``seconds`` written with its unit; None is ``—``.

    By default the unit suits the figure: ``1.23 s``, ``45.6 ms``, ``78 µs``. With
    ``unit`` ("s", "ms" or "µs") the figure is written in it with ``digits`` decimals
    (3 unless given), as figures read best side by side; ``sign`` writes ``+`` before
    a positive figure.
    """
    if seconds is None:
        return MISSING
    if unit is None:
        unit, digits = _unit_for(abs(seconds))
    elif unit not in SECONDS_PER_UNIT:
        raise ValueError(f"unit must be one of {', '.join(SECONDS_PER_UNIT)}, not {unit!r}")
    value = seconds / SECONDS_PER_UNIT[unit]
    return f"{value:{'+' if sign else ''}.{3 if digits is None else digits}f} {unit}"


def _unit_for(seconds: float) -> tuple[str, int]:
    if seconds >= 1:
        return "s", 2
    if seconds >= 1e-3:
        return "ms", 1
    return "µs", 0


def size(n_bytes: float | None) -> str:
    """``n_bytes`` in the largest binary unit it fills: ``47.7 MiB``, ``2.0 KiB``, ``512 B``."""
    if n_bytes is None:
        return MISSING
    for unit, scale in BYTES_PER_UNIT:
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{int(n_bytes)} B"


def percent(share: float | None) -> str:
    """A share as a percentage, ``1 %``: ``<1 %`` for a sliver, never ``0 %`` for what was measured."""
    if share is None:
        return MISSING
    return "<1 %" if 0 < share < 0.005 else f"{share:.0%}".replace("%", " %")
