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


def test_every_error_class_is_exported_from_conlab():
    import inspect

    from conlab import errors

    classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }
    assert classes, "errors.py defines no exception class"
    assert classes <= set(conlab.__all__), sorted(classes - set(conlab.__all__))
    assert classes == set(errors.__all__)
    for name in classes:
        assert getattr(conlab, name) is getattr(errors, name), name


def test_the_error_tree_in_the_docstring_names_every_class():
    from conlab import errors

    for name in errors.__all__:
        assert f" {name} " in errors.__doc__, name


def test_interrupted_is_still_a_keyboard_interrupt():
    # Ctrl-C must stay "stop": a handler of Exception lets it through, one of KeyboardInterrupt catches it.
    assert issubclass(conlab.Interrupted, KeyboardInterrupt)
    assert not issubclass(conlab.Interrupted, Exception)
    assert conlab.Interrupted("partial").partial == "partial"


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
