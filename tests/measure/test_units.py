"""Durations and sizes are written in one place, each with its unit, and the unit is right."""

import re
from pathlib import Path

import pytest

import conlab
from conlab.measure.units import duration, size

SRC = Path(conlab.__file__).resolve().parent
UNITS = SRC / "measure" / "units.py"


def test_a_duration_takes_the_unit_that_suits_it():
    assert duration(1.234) == "1.23 s"
    assert duration(0.0456) == "45.6 ms"
    assert duration(78e-6) == "78 µs"
    assert duration(-0.0456) == "-45.6 ms"
    assert duration(None) == "—"


def test_a_duration_in_a_given_unit_keeps_it_with_its_decimals_and_sign():
    assert duration(0.1234, "s") == "0.123 s"
    assert duration(2.5, "ms", 0) == "2500 ms"
    assert duration(0.0123, "ms", 1, sign=True) == "+12.3 ms"
    assert duration(-0.0015, "ms", 1, sign=True) == "-1.5 ms"
    assert duration(0.000042, "µs", 0) == "42 µs"
    with pytest.raises(ValueError, match="unit must be one of s, ms, µs, not 'min'"):
        duration(60, "min")


def test_a_size_is_written_in_binary_units_under_their_iec_names():
    assert size(50_000_000) == "47.7 MiB"
    assert size(3 * 2**30) == "3.0 GiB"
    assert size(2048) == "2.0 KiB"
    assert size(1023) == "1023 B"
    assert size(None) == "—"


def test_no_other_module_writes_a_duration_or_a_size_with_its_unit():
    written = re.compile(r"\{[^{}]*:[+]?\.\d+f\} ?(s|ms|µs|us|[KMG]i?B)\b")
    found = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        if path != UNITS
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if written.search(line)
    ]
    assert found == []
