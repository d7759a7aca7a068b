# The two commands: `make run` brings kat up, `make test` runs the whole suite.
# Both do every set-up step themselves on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT := $(wildcard kat plugins tests benchmarks)

.PHONY: run test lint format venv install rabbitmq scanners bench clean

run: install rabbitmq scanners
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start

test: install rabbitmq scanners
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

# nmap, testssl.sh, masscan for the binary-backed boefjes (apt-get when root).
# `make test` needs them: KAT_SCANNERS_REQUIRED=1 makes a missing one an error.
scanners:
	@KAT_SCANNERS_REQUIRED=$(if $(filter test,$(MAKECMDGOALS)),1,0) scripts/ensure-scanners.sh

bench: install rabbitmq
	$(BIN)/python benchmarks/katalogus.py
	$(BIN)/python benchmarks/runtime.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
