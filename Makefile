# The two commands that matter: `make demo` and `make test`. Both set up the
# environment themselves: uv (installed with pip when missing) and the
# dependencies locked in uv.lock, in .venv, on the python3 found on PATH.

PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --locked --no-sync

.PHONY: demo test test-deps lint bench setup clean pythons

setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --locked --all-extras --all-groups --quiet

demo: setup
	$(RUN) conlab demo $(ARGS)

# pytest exits 5 when it collects no test: make fails then, as on any other failure.
# `make pythons` first: 9 to 14 minutes on a fresh 2-core machine, nothing once built.
test: setup test-deps pythons
	$(RUN) pytest $(ARGS)

# Debian's chromium, for the browser tests of the HTML report; skipped at once when present.
test-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

lint: setup
	$(RUN) ruff check src tests benchmarks
	$(RUN) ruff format --check src tests benchmarks
	$(RUN) mypy
	$(RUN) lint-imports --no-cache

bench: setup
	$(RUN) python benchmarks/run.py $(ARGS)

# CPython 3.13.5 with the GIL and free-threaded (3.13.5t), built once from the same source under
# ~/.cache/conlab/pythons; a no-op once built.
pythons:
	bash tools/build-pythons.sh

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
