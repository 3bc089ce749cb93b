"""conlab inside Jupyter: a real kernel runs a notebook whose functions are defined in a cell."""

from __future__ import annotations

import os

import pytest

from tests.conftest import START_METHODS

nbformat = pytest.importorskip("nbformat", reason="nbformat (dev group) runs the notebook")
nbclient = pytest.importorskip("nbclient", reason="nbclient (dev group) runs the notebook")
pytest.importorskip("ipykernel", reason="ipykernel (dev group) is the notebook's kernel")

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(__file__)), "notebooks", "lesson.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("method", START_METHODS)
def test_cell_functions_run_in_processes_and_their_prints_reach_the_cell(tmp_path, method):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The notebook, as shipped, uses spawn: the start method that cannot inherit the cell.
    assert 'start_method="spawn"' in nb.cells[-1].source
    nb.cells[-1].source = nb.cells[-1].source.replace('"spawn"', repr(method))
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    # The cell asserts that every run is valid: a failed run raises CellExecutionError here.
    client.execute()
    outputs = nb.cells[-1].outputs
    results = [o for o in outputs if o.output_type == "execute_result"]
    assert len(results) == 1, outputs
    data = results[0].data
    for shown in (data["text/plain"], data["text/html"]):
        assert "square : 81" in shown
        assert "cube : 729" in shown
    html = data["text/html"]
    # The table and a timeline per run (sequential, processes, process-pool), each task a bar.
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="timeline"') == 3
    assert html.count('class="task"') == 6
    assert f"processes/{method}" in html and f"process-pool/{method}" in html
    # The output is grouped per task: all of calc_square's lines before calc_cube's.
    plain = data["text/plain"]
    assert plain.index("square : 81") < plain.index("calculate cube of numbers")
