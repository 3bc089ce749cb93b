"""The house's shape, checked by tools: layers that import only downward, and small modules."""

import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, before it joined the standard library
    import tomli as tomllib

import conlab
from conlab.strategies import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(conlab.__file__).resolve().parent
MAX_MODULE_LINES = 500


def _importlinter_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]


def test_import_linter_finds_no_broken_contract():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [str(lint_imports), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = re.search(r"Contracts: (\d+) kept, (\d+) broken", proc.stdout)
    assert summary, proc.stdout + proc.stderr
    kept, broken = map(int, summary.groups())
    assert (broken, proc.returncode) == (0, 0), proc.stdout
    assert kept == len(_importlinter_config()["contracts"])


def test_no_contract_has_an_escape_hatch():
    for contract in _importlinter_config()["contracts"]:
        assert "ignore_imports" not in contract, contract["name"]


def test_every_registered_strategy_is_in_the_independence_contract():
    (independence,) = [
        c for c in _importlinter_config()["contracts"] if c["type"] == "independence"
    ]
    assert {cls.__module__ for cls in REGISTRY.values()} <= set(independence["modules"])


def test_no_module_is_longer_than_500_lines():
    too_long = {}
    for path in sorted(SRC.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long[str(path.relative_to(SRC))] = lines
    assert too_long == {}
