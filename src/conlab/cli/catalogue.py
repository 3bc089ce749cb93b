"""``conlab workloads`` and ``conlab strategies``: what compare can run, and whether it runs here."""

from __future__ import annotations

import argparse


def workloads(args: argparse.Namespace) -> int:
    from conlab.workloads import CATALOGUE, KINDS, params, unavailable_reason

    for name, make in CATALOGUE.items():
        doc = (make.__doc__ or "").strip().splitlines()[0].replace("``", "") if make.__doc__ else ""
        keys = " ".join(
            f"{k}={'auto' if v is None else v}" for k, v in params.defaults(make).items()
        )
        reason = unavailable_reason(name)
        print(f"{name:<7} {KINDS.get(name, '?'):<9} {doc}")
        print(f"{'':<17} params: {keys}" + (f"; NOT AVAILABLE here: {reason}" if reason else ""))
    print("\nYour own code: conlab compare mypkg.mod:func --inputs items.json (or --range N)")
    return 0


def strategies(args: argparse.Namespace) -> int:
    from conlab.strategies import REGISTRY

    for name, cls in REGISTRY.items():
        reason = cls().unavailable_reason()
        note = f"  NOT AVAILABLE here: {reason}" if reason else ""
        if cls.wants_async:
            note += "  (runs workloads with an async variant)"
        print(f"{name:<13} {cls.description}{note}")
    return 0
