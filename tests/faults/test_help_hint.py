"""A bad value found once the command line is parsed points to the subcommand's --help."""

from __future__ import annotations

import pytest

from tests.helpers import assert_one_line_error, run_cli


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "sleep", "--strategies", "bogus"],
        ["compare", "nosuch"],
        ["compare", "sleep", "--param", "tasks=-1"],
        ["compare", "sleep", "--strategies", "thread-pool:0"],
        ["sweep", "sleep", "--strategy", "sequential"],
        ["advise", "nosuch"],
    ],
)
def test_a_bad_value_found_after_parsing_points_to_the_subcommands_help(argv):
    line = assert_one_line_error(run_cli(argv), code=2)
    assert line.endswith(f"(see 'conlab {argv[0]} --help')"), line
