"""Argument types of the command line: each turns the text of one option into its value."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def one_line(text: str) -> str:
    """The text with control characters escaped (a newline in a path must not split the line)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def count(minimum: int) -> Callable[[str], int]:
    """A whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    parse.__name__ = "count"
    return parse


def counts(text: str) -> list[int]:
    """``1,2,4,8``: whole numbers of at least 1."""
    parse = count(1)
    values = [parse(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, not {text!r}")
    return values


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, not {text!r}") from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"must be a percentage from 0, not {value}")
    return value


def start_methods() -> list[str]:
    """The start methods this platform offers, for --start-method."""
    import multiprocessing

    return multiprocessing.get_all_start_methods()
