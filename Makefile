# Mission Portfolio: the two commands of the README's quick start, and the checks CI runs.
# Every install is from the lock files in requirements/ (exact versions with hashes), so a fresh
# machine next year installs what was tested; `make lock` refreshes them on purpose and
# `make check-newest` tries the newest releases pyproject.toml allows (see the README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
UV_VERSION := 0.13.9
# what the lock is resolved for: the README's fresh machine (Debian, CPython 3.11)
LOCK_FOR := --python-version 3.11 --python-platform linux --generate-hashes

.PHONY: tools demo install install-test test lint fix benchmark lock check-newest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# pip, setuptools and wheel first (the project is built with them, without build isolation)
tools: $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/build.txt

install: tools
	$(BIN)/pip install --quiet --require-hashes -r requirements/demo.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .

install-test: tools
	./scripts/install-test-deps.sh
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .

## Install, load the demo mission into a fresh SQLite file and serve it on http://127.0.0.1:8000
demo: install
	$(BIN)/mission-portfolio demo --host $(HOST) --port $(PORT)

## Install everything the tests need (Python extras, Debian postgresql and chromium), then lint and test
test: install-test
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -n 2 --dist loadgroup
	@echo "Load benchmark (figures only; it does not gate):"
	-$(BIN)/python -m benchmarks.load --clients 20 --seconds 10
	@echo "Report benchmark: the report page with its nine charts, cold and warm (figures only):"
	-$(BIN)/python -m benchmarks.report --views 20

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy optimiser portfolio api benchmarks
	$(BIN)/lint-imports

fix:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

benchmark: install
	$(BIN)/python -m benchmarks.run --quick

## Refresh the lock files to the newest releases pyproject.toml allows (then run make test)
lock: $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile --quiet --upgrade $(LOCK_FOR) requirements/build.in -o requirements/build.txt
	$(BIN)/uv pip compile --quiet --upgrade $(LOCK_FOR) --extra test pyproject.toml -o requirements/test.txt
	$(BIN)/uv pip compile --quiet --upgrade $(LOCK_FOR) -c requirements/test.txt pyproject.toml -o requirements/demo.txt

## The newest releases pyproject.toml allows (not the lock), in a throwaway venv: optimiser tests and the demo load
check-newest:
	./scripts/check-newest.sh $(PYTHON)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache mission-portfolio-demo.db*
