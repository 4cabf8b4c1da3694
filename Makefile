# Mission Portfolio: the two commands of the README's quick start, and the checks CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1

.PHONY: demo install install-test test lint fix benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	./scripts/install-test-deps.sh
	$(BIN)/pip install --quiet -e '.[test]'

## Install, load the demo mission into a fresh SQLite file and serve it on http://127.0.0.1:8000
demo: install
	$(BIN)/mission-portfolio demo --host $(HOST) --port $(PORT)

## Install everything the tests need (Python extras, Debian postgresql and chromium), then lint and test
test: install-test
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -n 2 --dist loadgroup
	@echo "Load benchmark (figures only; it does not gate):"
	-$(BIN)/python -m benchmarks.load --clients 20 --seconds 10

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy optimiser portfolio
	$(BIN)/lint-imports

fix:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

benchmark: install
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache mission-portfolio-demo.db*
