# The two commands: `make run` brings kat up, `make test` runs the whole suite.
# Both do every set-up step themselves on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT := $(wildcard kat plugins tests benchmarks)

.PHONY: run test lint format venv install rabbitmq redis bench clean

run: install rabbitmq redis
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start

test: install rabbitmq redis
	$(BIN)/ruff check $(LINT)
	$(BIN)/ruff format --check $(LINT)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check $(LINT)
	$(BIN)/ruff format --check $(LINT)

format: install
	$(BIN)/ruff format $(LINT)
	$(BIN)/ruff check --fix $(LINT)

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(STAMP)

# Reinstall when the package metadata changes.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[plugins,test]'
	touch $(STAMP)

rabbitmq:
	@scripts/ensure-rabbitmq.sh

redis:
	@scripts/ensure-redis.sh

bench: install rabbitmq
	$(BIN)/python benchmarks/katalogus.py
	$(BIN)/python benchmarks/runtime.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
