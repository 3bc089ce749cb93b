"""Hostile text in result files and task output: escapes, surrogates, TeX, endless files."""

from __future__ import annotations

import io
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conlab import resultfile
from conlab.errors import ResultFileError
from conlab.model import Comparison, Results, Run, TaskRecord
from conlab.report import html, terminal
from conlab.report.visible import HIDDEN_CATEGORIES, SafeConsole, encodable, visible

PAYLOADS = [
    "\x1b]52;c;aGVsbG8=\x1b\\",  # clipboard write
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]0;owned\x07",  # window title
    "\x9b31m",  # a C1 control sequence introducer
    "abc\u202egnp.exe",  # a bidi override
    "\ud800",  # a lone surrogate
    "$\\undefinedmacro{x}$",  # TeX to matplotlib's mathtext
]


def _results(text: str) -> Results:
    record = TaskRecord(
        index=0,
        name=f"task {text}",
        status="error",
        start_ns=0,
        end_ns=1_000_000,
        output_chunks=[(0, f"printed {text}\n")],
        error=f"ValueError: {text}",
    )
    run = Run("thread-pool", 2, wall_s=[0.1], status="failed", reason=f"{text} failed", t0_ns=0)
    run.records.append(record)
    c = Comparison(f"work {text}", "io", 1, {"p": text}, repeats=1, warmup=0, title=text)
    c.runs.append(run)
    return Results({"python": text}, [c])


def _printed(results: Results, encoding: str = "utf-8", terminal_codes: bool = True) -> str:
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding=encoding, errors="strict")
    console = SafeConsole(file=stream, force_terminal=terminal_codes, width=200)
    terminal.render_results(console, results)
    stream.flush()
    return buffer.getvalue().decode(encoding)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_show_makes_control_characters_visible(payload):
    shown = _printed(_results(payload))
    plain = _printed(_results("clean"))
    # Rich's own styling starts with ESC [ and a digit; nothing else of ESC may pass.
    assert shown.count("\x1b") == plain.count("\x1b")
    assert "\x9b" not in shown and "\u202e" not in shown and "\ud800" not in shown


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_any_output_encoding_prints(encoding):
    _printed(_results("é ✓ \ud800 \x1b[2J"), encoding=encoding)


def test_visible_keeps_text_and_lines():
    assert visible("plain text\n\tindented") == "plain text\n\tindented"
    assert visible("a\x1b[2Jb") == "a\u241b[2Jb"
    assert visible("\x7f\x00") == "\u2421\u2400"
    assert encodable("é\ud800", "ascii") == "??"


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_any_text_becomes_printable(text):
    shown = visible(text)
    hidden = [c for c in shown if unicodedata.category(c) in HIDDEN_CATEGORIES]
    assert set(hidden) <= {"\n", "\t"}
    assert len(shown) == len(text)


def test_a_surrogate_round_trips_through_every_file(tmp_path):
    results = _results("\ud800 \x1b[2J")
    path = str(tmp_path / "r.json")
    resultfile.write(results, path)
    back = resultfile.load(path)
    page = tmp_path / "r.html"
    html.write(back, str(page))
    assert page.stat().st_size > 0 and "\ud800" not in page.read_text("utf-8")


def test_plot_draws_tex_and_surrogates_as_text(tmp_path):
    pytest.importorskip("matplotlib")
    from conlab.report import plot

    for payload in ("$\\undefinedmacro{x}$", "\ud800", "$x^$"):
        results = _results(payload)
        run = results.comparisons[0].runs[0]
        run.status, run.speedup = "ok", 1.0
        for ext in ("png", "svg"):
            path = tmp_path / f"p.{ext}"
            plot.plot(results, str(path))
            assert path.stat().st_size > 0


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_files_are_refused_quickly(device):
    start = time.monotonic()
    try:
        resultfile.load(device)
    except ResultFileError as exc:
        assert "\n" not in str(exc) and device in str(exc)
    else:
        raise AssertionError(f"{device} read as a result file")
    assert time.monotonic() - start < 30


def test_a_file_past_the_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(resultfile, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text('{"schema": "conlab.results/1"}')
    with pytest.raises(ResultFileError, match="larger than"):
        resultfile.load(str(path))


def test_a_closed_pipe_ends_printing_quietly():
    import os

    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    console = SafeConsole(file=stream, width=80)
    for k in range(1000):
        console.print(f"line {k}")  # no SystemExit, no BrokenPipeError
    assert console.quiet
    stream.close()


@given(st.text(max_size=30), st.sampled_from(["utf-8", "ascii", "latin-1"]))
@settings(max_examples=100, deadline=None)
def test_any_name_in_a_file_prints_safely(tmp_path_factory, name, encoding):
    path = str(tmp_path_factory.mktemp("h") / "r.json")
    resultfile.write(_results(name), path)
    shown = _printed(resultfile.load(path), encoding=encoding, terminal_codes=False)
    assert "\x1b" not in shown and "\x9b" not in shown
