"""Fuzzing bad input: the command line's arguments and result files.

Whatever comes in, conlab answers with one line and exit 2 (or succeeds), never
a traceback. main() is fuzzed in-process for speed; a few cases run as a user
would, in a subprocess.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from conlab import resultfile
from conlab.cli import build_parser, main
from conlab.model import Comparison, Results, Run, TaskRecord, Worker
from tests.helpers import assert_one_line_error, run_cli

# CONLAB_FUZZ_EXAMPLES=2000 for a longer hunt than the suite's own.
FUZZ = settings(
    max_examples=int(os.environ.get("CONLAB_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _main(argv: list[str]) -> tuple[int, str]:
    """main(argv) in this process: its exit code and its stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, --version, and its errors
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


def _assert_clean(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert code in (0, 2), (code, stderr)
    if code == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, stderr


# --- the command line ------------------------------------------------------------------

WORDS = [
    "demo",
    "show",
    "compare",
    "--quick",
    "--repeats",
    "--warmup",
    "--start-method",
    "--json",
    "--raw-output",
    "--quiet",
    "--help",
    "--version",
    "--timeout",
    "--isolate",
    "fork",
    "spawn",
    "forkserver",
    "0",
    "-1",
    "1e9",
    "nan",
    "inf",
    "3",
    "",
    "-",
    "--",
    "/nonexistent/dir/out.json",
    "/",
    ".",
    "a\x00b",
    "é",
    "💥",
    "x" * 300,
]
TOKENS = st.one_of(st.sampled_from(WORDS), st.text(max_size=20))


def _would_run_a_measurement(argv: list[str]) -> bool:
    """Arguments that parse into a demo would measure for seconds: valid, and not fuzzed here."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            return False
    return args.command != "show"


@FUZZ
@given(st.lists(TOKENS, max_size=6))
@example(["show", "a\x00b"])
@example(["show", "/"])
@example(["demo", "\r"])
def test_any_arguments_give_one_line_or_work(argv):
    assume(not _would_run_a_measurement(argv))
    _assert_clean(*_main(argv))


# --- result files ------------------------------------------------------------------------


def _valid() -> dict:
    record = TaskRecord(
        index=0,
        name="t",
        status="ok",
        start_ns=10,
        end_ns=2_000,
        cpu_ns=5,
        worker=Worker("h", 1, 2),
        output_chunks=[(20, "hello\n")],
        result=4,
    )
    run = Run(
        strategy="sequential",
        workers=1,
        wall_s=[0.1, 0.2],
        startup_s=[0.01],
        cpu_s=[0.1],
        peak_rss_bytes=[1000],
        floor_s=0.1,
        t0_ns=0,
        records=[record],
    )
    comparison = Comparison(workload="seed", kind="io", tasks=1, repeats=2, runs=[run])
    return resultfile.to_dict(Results({"python": "3.11"}, [comparison]))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.sampled_from([10**400, -(10**30), 1e308, -1e308, 0, -1, ""]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _paths(v, (*prefix, k))


def _replace(data, path, new):
    if not path:
        return new
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return data


def _dumps(data) -> bytes:
    return json.dumps(data, allow_nan=True).encode()


@st.composite
def broken_files(draw) -> bytes:
    data = _valid()
    how = draw(
        st.sampled_from(["replace", "truncate", "bytes", "deep", "huge", "schema", "delete"])
    )
    if how == "replace":
        path = draw(st.sampled_from(list(_paths(data))))
        return _dumps(_replace(data, path, draw(JSON_VALUES)))
    if how == "delete":
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = _replace(data, (), data)
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        return _dumps(data)
    raw = _dumps(data)
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "bytes":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if how == "deep":
        depth = draw(st.sampled_from([50, 900, 5000, 200_000]))
        path = draw(st.sampled_from(list(_paths(data))))
        return _dumps(_replace(data, path, "@@")).replace(b'"@@"', b"[" * depth + b"]" * depth)
    if how == "huge":
        path = draw(st.sampled_from(list(_paths(data))))
        digits = draw(st.sampled_from([20, 400, 5000]))
        return _dumps(_replace(data, path, "@@")).replace(b'"@@"', b"9" * digits)
    return _dumps({**data, "schema": draw(st.text(max_size=20))})


@FUZZ
@given(broken_files())
def test_any_result_file_gives_one_line_or_shows(raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.json")
        with open(path, "wb") as f:
            f.write(raw)
        _assert_clean(*_main(["show", path]))


def test_the_valid_file_shows():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.json")
        with open(path, "wb") as f:
            f.write(_dumps(_valid()))
        assert _main(["show", path]) == (0, "")


# --- as a user would run it --------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"schema": "conlab.results/1", "environ', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"schema": ' + b"9" * 5000 + b"}", "number"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"schema": "conlab.results/99"}', "schema"),
    ],
    ids=["truncated", "non-utf8", "huge-number", "deep", "unknown-schema"],
)
def test_show_bad_files_in_a_subprocess(tmp_path, content, says):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    assert_one_line_error(run_cli(["show", str(path)]), 2, says)


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--repeats", "0"],
        ["demo", "--start-method", "nope"],
        ["show"],
        ["nope"],
        ["demo", "--json", "/nonexistent/dir/x.json", "--quick"],
        ["show", "a\nb"],
    ],
)
def test_bad_arguments_in_a_subprocess(argv):
    assert_one_line_error(run_cli(argv), 2)
