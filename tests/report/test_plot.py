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


def _sweep_results(results) -> Results:
    """A real sweep: thread-pool at 1, 2 and 3 workers on the seed workload, with 2 usable cores."""
    from conlab.lab.sweep import sweep

    measured = sweep("seed", "thread-pool", [1, 2, 3], repeats=1, warmup=0)
    environment = {**results.environment, "usable_cpus": 2}
    return Results(environment, measured.comparisons)


def test_sweep_legends_cover_no_line_and_amdahl_is_over_ideal(results):
    fig = plot.figure(_sweep_results(results))
    axes = [ax for ax in fig.get_axes() if ax.get_legend() is not None]
    assert len(axes) == 2
    for ax in axes:
        legend_box = ax.get_legend().get_window_extent()
        plot_box = ax.get_window_extent()
        # Outside the plot area: no data point, no line (the cores line included) under it.
        assert legend_box.y1 <= plot_box.y0 or legend_box.x0 >= plot_box.x1, (legend_box, plot_box)
        for line in ax.get_lines():
            for x, y in ax.transData.transform(line.get_xydata()):
                assert not legend_box.contains(x, y), line.get_label()
    speed = axes[0]
    lines = {line.get_label(): line for line in speed.get_lines()}
    amdahl = next(line for label, line in lines.items() if label.startswith("Amdahl"))
    ideal = lines["ideal"]
    assert amdahl.get_zorder() > ideal.get_zorder()
    assert amdahl.get_linewidth() > ideal.get_linewidth()
    assert "2 usable cores" in lines


def test_task_names_are_drawn_only_where_they_fit(results):
    from tests.report.pictures import short_tasks_results

    fig = plot.figure(short_tasks_results())
    ax = fig.get_axes()[1]
    names = [t for t in ax.texts if t.get_color() == "white"]
    shown = [t for t in names if t.get_visible()]
    assert names and shown, "some names fit, on the longer bars"
    bars = [p for collection in ax.collections for p in collection.get_paths()]
    assert len(bars) == len(names)
    for text, path in zip(names, bars, strict=True):
        if text.get_visible():
            right_px = ax.transData.transform((path.vertices[:, 0].max(), 0))[0]
            assert text.get_window_extent().x1 <= right_px, text.get_text()
