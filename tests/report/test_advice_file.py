"""The advice object in a result file: written, read back, and checked strictly."""

from __future__ import annotations

import json

import pytest

from conlab import resultfile
from conlab.errors import ResultFileError
from conlab.model import Comparison, Results

ADVICE = {
    "strategy": "process-pool",
    "workers": 2,
    "options": {"start_method": "fork"},
    "chunksize": 1,
    "why": "because",
    "predicted_s": 1.0,
    "measured_s": 1.1,
    "predictions": [{"strategy": "sequential", "workers": 1, "total_s": 2.0}],
    "verification": [{"strategy": "sequential", "workers": 1, "predicted_s": 2.0}],
}


def _file(tmp_path, advice):
    path = tmp_path / "r.json"
    c = Comparison(workload="cpu", kind="cpu", tasks=8, advice=advice)
    resultfile.write(Results({"python": "3"}, [c]), str(path))
    return path


def test_advice_round_trips(tmp_path):
    assert resultfile.load(str(_file(tmp_path, ADVICE))).comparisons[0].advice == ADVICE


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("workers", "two", "advice.workers"),
        ("why", None, "advice"),
        ("predicted_s", float("nan"), "advice.predicted_s"),
        ("predictions", [{"strategy": "x"}], "advice.predictions[0]"),
    ],
)
def test_a_malformed_advice_is_one_clear_error(tmp_path, key, value, where):
    path = _file(tmp_path, ADVICE)
    data = json.loads(path.read_text())
    data["comparisons"][0]["advice"][key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=where.replace("[", r"\[").replace("]", r"\]")):
        resultfile.load(str(path))
