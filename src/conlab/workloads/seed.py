"""The lesson's workload: calc_square and calc_cube, sleeping per number and printing as they go."""

from __future__ import annotations

import asyncio
import time

from conlab.model import Task, Workload

NUMBERS = [2, 3, 8, 9]


def calc_square(numbers: list[int], sleep_s: float = 0.2) -> list[int]:
    print("calculate square numbers")
    out = []
    for n in numbers:
        time.sleep(sleep_s)
        print("square :", n * n)
        out.append(n * n)
    return out


def calc_cube(numbers: list[int], sleep_s: float = 0.2) -> list[int]:
    print("calculate cube of numbers")
    out = []
    for n in numbers:
        time.sleep(sleep_s)
        print("cube :", n * n * n)
        out.append(n * n * n)
    return out


async def calc_square_async(numbers: list[int], sleep_s: float = 0.2) -> list[int]:
    print("calculate square numbers")
    out = []
    for n in numbers:
        await asyncio.sleep(sleep_s)
        print("square :", n * n)
        out.append(n * n)
    return out


async def calc_cube_async(numbers: list[int], sleep_s: float = 0.2) -> list[int]:
    print("calculate cube of numbers")
    out = []
    for n in numbers:
        await asyncio.sleep(sleep_s)
        print("cube :", n * n * n)
        out.append(n * n * n)
    return out


def workload(sleep_s: float = 0.2, numbers: list[int] | None = None) -> Workload:
    """Two tasks, each sleeping ``sleep_s`` per number: 1.6 s in sequence, 0.8 s with two workers."""
    numbers = list(NUMBERS if numbers is None else numbers)
    kw = {"sleep_s": sleep_s}
    return Workload(
        name="seed",
        kind="io",
        description="the lesson's calc_square and calc_cube: sleep per number, print each result",
        params={"sleep_s": sleep_s, "numbers": numbers},
        tasks=[Task(calc_square, (numbers,), kw), Task(calc_cube, (numbers,), kw)],
        async_tasks=[
            Task(calc_square_async, (numbers,), kw, name="calc_square"),
            Task(calc_cube_async, (numbers,), kw, name="calc_cube"),
        ],
        task_durations_s=[sleep_s * len(numbers)] * 2,
        expected=[[n * n for n in numbers], [n**3 for n in numbers]],
    )
