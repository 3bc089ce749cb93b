"""conlab pythons and --python NAME: the interpreters of this machine, found and probed."""

from __future__ import annotations

import os
import time

import pytest

from conlab._process import pythons
from conlab.cli.pythons import inspect_python
from conlab.errors import UsageError
from tests.helpers import assert_one_line_error, run_cli

CACHE = pythons.cache_dir()
FT = os.path.join(CACHE, "3.13.5t", "bin", "python3.13t")
GIL = os.path.join(CACHE, "3.13.5", "bin", "python3.13")


def need_cache() -> None:
    if not (os.path.exists(FT) and os.path.exists(GIL)):
        pytest.skip(f"needs 'make pythons' (CPython 3.13.5 and 3.13.5t under {CACHE})")


def test_the_list_names_each_build_and_its_gil():
    need_cache()
    proc = run_cli(["pythons"], timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {
        line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:] if line[:2] == "  "
    }
    assert rows["3.13.5t"][1:4] == [
        "free-threaded",
        "off",
        FT.replace(os.path.expanduser("~"), "~"),
    ]
    assert rows["3.13.5"][1:4] == ["GIL", "on", GIL.replace(os.path.expanduser("~"), "~")]
    assert max(map(len, proc.stdout.splitlines())) <= 80, proc.stdout


@pytest.mark.parametrize(("name", "path", "free"), [("3.13t", FT, True), ("3.13", GIL, False)])
def test_a_version_name_resolves_to_the_newest_of_its_build(name, path, free):
    need_cache()
    interp = inspect_python(name)
    assert (interp.path, interp.free_threaded) == (path, free)
    assert interp.label == f"CPython 3.13.5{'t' if free else ''}"


def test_a_missing_version_is_one_line_listing_what_exists():
    need_cache()
    line = assert_one_line_error(run_cli(["compare", "cpu", "--python", "3.99t"]), 2, "3.99t")
    assert "no such interpreter here" in line and "3.13.5t" in line and "make pythons" in line


def test_names_match_by_leading_components_and_build():
    found = pythons.Found("/x", "cache", (3, 13, 5), "CPython", True, False)
    assert pythons.matches(found, "3.13t") and pythons.matches(found, "3.13.5t")
    assert not pythons.matches(found, "3.13") and not pythons.matches(found, "3.1t")
    with pytest.raises(UsageError, match="no such"):
        inspect_python("3.99.99")


def test_a_python_that_hangs_is_left_out_within_the_bound(tmp_path):
    """Probes run at once, each bounded: one interpreter that never answers costs one bound."""
    fake = tmp_path / "python3.99"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    t0 = time.perf_counter()
    proc = run_cli(["pythons"], env=env, timeout=60)
    took_s = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert str(fake) not in proc.stdout
    assert took_s < pythons.PROBE_TIMEOUT_S + 8, took_s
