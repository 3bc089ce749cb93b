"""The public API is what conlab/__init__.py lists in __all__: sorted, complete, importable."""

from __future__ import annotations

import subprocess
import sys

import conlab
from tests.helpers import SRC


def test_all_is_sorted_and_every_name_resolves():
    assert conlab.__all__ == sorted(conlab.__all__)
    for name in conlab.__all__:
        assert getattr(conlab, name) is not None, name


def test_every_public_class_of_the_model_is_exported():
    from conlab import model

    public = {n for n in model.__all__}
    assert public - {"Worker"} <= set(conlab.__all__)


def test_import_conlab_stays_light():
    code = "import sys, conlab; print(sorted(m for m in ('rich', 'cloudpickle', 'psutil', 'concurrent.futures.process') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC},
        check=True,
    ).stdout
    assert out.strip() == "[]"
