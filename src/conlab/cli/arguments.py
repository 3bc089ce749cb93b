"""Argument types of the command line: each turns the text of one option into its value."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def one_line(text: str) -> str:
    """The text with control characters escaped (a newline in a path must not split the line)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def count(minimum: int, maximum: int = 10**6) -> Callable[[str], int]:
    """A whole number from ``minimum`` to ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, not {text[:30]}")
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


MAX_SECONDS = 10**6  # eleven days and a half: past it, a limit is no limit


def seconds(text: str) -> float:
    """A number of seconds, finite, more than 0 and at most MAX_SECONDS."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds, more than 0 and at most {MAX_SECONDS}, not {text}"
        )
    return value


def path(text: str) -> str:
    """A file's path, made absolute now: a task's os.chdir cannot move it later."""
    from conlab.outputs import absolute

    return absolute(text)


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
