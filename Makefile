# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast check deps sysdeps clean

sysdeps:
	@bash scripts/sysdeps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,whisper,scale]'
	@touch $(STAMP)

deps: sysdeps $(STAMP)

run: deps
	@$(BIN)/hotline models ensure || true
	$(BIN)/hotline serve --host $(HOST) --port $(PORT)

test: deps
	$(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# the inner loop: everything but the end-to-end tests marked `slow` (real servers, browsers, long decodes)
test-fast: deps
	$(BIN)/python -m pytest -q -rs -m "not slow" $(PYTEST_ARGS)

check: deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
