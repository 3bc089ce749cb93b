"""--plot: PNG and SVG files that are valid images of the expected size."""

from __future__ import annotations

import dataclasses
import struct
import xml.etree.ElementTree as ET

import pytest

from conlab.errors import UsageError
from conlab.lab.sweep import Sweep
from conlab.model import Results
from conlab.report import plot

pytest.importorskip("matplotlib", reason="matplotlib is the conlab[plot] extra")


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_of_comparisons_has_the_expected_size(results, tmp_path):
    path = tmp_path / "out.png"
    plot.plot(results, str(path))
    # 12 in × 100 dpi wide; one row per comparison: at least 3 in, taller with many lanes.
    # The seed row has 1 + 2 + 2 lanes (3.0 in); the hostile row 1 + 2 (3.0 in).
    assert png_size(path) == (1200, 600) == plot.size_px(results)
    from matplotlib.image import imread

    pixels = imread(str(path))
    assert pixels.shape[:2] == (600, 1200)
    assert pixels.std() > 0.05, "the plot is blank"


def test_svg_is_valid_xml_of_the_same_size_in_points(results, tmp_path):
    path = tmp_path / "out.svg"
    one = Results(results.environment, results.comparisons[:1])
    plot.plot(one, str(path))
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (root.get("width"), root.get("height")) == ("864pt", "216pt")
    assert "calc_square" in path.read_text()


def test_sweep_rows(results, tmp_path):
    sweep_comparisons = []
    for workers in (1, 2):
        c = results.comparisons[0]
        run = c.run("thread-pool")
        sweep_comparisons.append(
            dataclasses.replace(
                c,
                runs=[c.runs[0], dataclasses.replace(run, workers=workers)],
                sweep={"id": "s", "strategy": "thread-pool", "workers": workers, "tasks": 2},
            )
        )
    sweep_results = Results(results.environment, sweep_comparisons)
    assert len(Sweep("seed", "thread-pool", sweep_comparisons).points()) == 2
    path = tmp_path / "sweep.png"
    plot.plot(sweep_results, str(path))
    assert png_size(path) == (1200, 360)


@pytest.mark.parametrize("name", ["out.pdf", "out", "out.jpeg"])
def test_other_formats_are_refused_before_anything_is_drawn(results, tmp_path, name):
    with pytest.raises(UsageError, match=r"\.png or \.svg"):
        plot.plot(results, str(tmp_path / name))
    assert not (tmp_path / name).exists()
