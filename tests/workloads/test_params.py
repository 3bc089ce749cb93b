"""--param key=value: typed by the factory's annotations, checked against its signature."""

from __future__ import annotations

import pytest

from conlab.errors import UsageError
from conlab.workloads import params


def factory(
    tasks: int = 2, sleep_s: float = 0.1, numbers: list[int] | None = None, loud: bool = False
):
    return tasks, sleep_s, numbers, loud


def test_values_take_the_declared_types():
    got = params.parse("f", factory, ["tasks=3", "sleep_s=2", "numbers=1, 2,3", "loud=yes"])
    assert got == {"tasks": 3, "sleep_s": 2.0, "numbers": [1, 2, 3], "loud": True}
    assert type(got["sleep_s"]) is float
    assert params.parse("f", factory, ["numbers=none"]) == {"numbers": None}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("tasks=2.5", "parameter 'tasks' of f must be a whole number, not '2.5'"),
        ("loud=maybe", "parameter 'loud' of f must be true or false, not 'maybe'"),
        ("numbers=1,x", "must be a comma-separated list of whole numbers, not '1,x'"),
        (
            "speed=3",
            "unknown parameter 'speed' for f: valid keys are tasks, sleep_s, numbers, loud",
        ),
        ("=3", "--param takes key=value, not '=3'"),
    ],
)
def test_bad_values_say_what_is_valid(pair, message):
    with pytest.raises(UsageError) as info:
        params.parse("f", factory, [pair])
    assert message in str(info.value)


def test_python_values_are_checked_too():
    assert params.check("f", factory, {"tasks": 4, "numbers": (1, 2)}) == {
        "tasks": 4,
        "numbers": [1, 2],
    }
    with pytest.raises(UsageError, match="'tasks' of f must be a whole number, not True"):
        params.check("f", factory, {"tasks": True})
