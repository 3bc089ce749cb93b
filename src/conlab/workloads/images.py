"""Pillow: resizing and blurring generated images, C code that releases the GIL."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random

from conlab.model import Task, Workload
from conlab.workloads.params import at_least

INSTALL_HINT = "pip install 'conlab[image]'"


def unavailable_reason() -> str | None:
    if importlib.util.find_spec("PIL") is None:
        return f"needs Pillow: {INSTALL_HINT}"
    return None


def process(seed: int, side: int, rounds: int) -> str:
    """Upscale, blur and downscale a generated side×side image ``rounds`` times; a digest of it."""
    from PIL import Image, ImageFilter

    data = random.Random(seed).randbytes(side * side * 3)
    image = Image.frombytes("RGB", (side, side), data)
    for _ in range(rounds):
        image = image.resize((2 * side, 2 * side), Image.Resampling.LANCZOS)
        image = image.filter(ImageFilter.GaussianBlur(2))
        image = image.resize((side, side), Image.Resampling.LANCZOS)
    return hashlib.sha256(image.tobytes()).hexdigest()


def workload(tasks: int | None = None, side: int = 512, rounds: int = 2) -> Workload:
    """``tasks`` images (4 × cores by default), each ``side``×``side`` pixels, processed ``rounds`` times.

    Results are checked against the sequential run's.
    """
    owner = "the image workload"
    count = tasks if tasks is not None else 4 * (os.cpu_count() or 1)
    at_least(owner, "tasks", count, 1)
    at_least(owner, "side", side, 8)
    at_least(owner, "rounds", rounds, 1)
    return Workload(
        name="image",
        kind="cpu-nogil",
        description="Pillow resize and Gaussian blur of generated images (releases the GIL)",
        params={"tasks": count, "side": side, "rounds": rounds},
        tasks=[Task(process, (k, side, rounds), name=f"image[{k}]") for k in range(count)],
    )
