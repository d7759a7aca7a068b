# The two commands: `make run` brings kat up, `make test` runs the whole suite.
# Both do every set-up step themselves on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT := $(wildcard kat plugins tests benchmarks)

.PHONY: run test test-fast lint format venv install rabbitmq postgres redis chromium scanners bench clean

# Ctrl-C stops honcho with status 130: that is how `make run` is meant to end.
run: install rabbitmq redis scanners
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start || [ $$? -eq 130 ]

# The whole suite twice: every test system's store on SQLite, then on PostgreSQL.
test: install rabbitmq postgres redis chromium scanners
	$(BIN)/ruff check $(LINT)
	$(BIN)/ruff format --check $(LINT)
	KAT_TEST_STORE=sqlite $(BIN)/pytest
	KAT_TEST_STORE=postgres $(BIN)/pytest

# The fast tier: no RabbitMQ, PostgreSQL, gunicorn or worker processes. On this
# marker expression tests/conftest.py adds two xdist workers (docs/operations.md).
test-fast: install
	$(BIN)/pytest -m "not e2e"

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

postgres:
	@scripts/ensure-postgres.sh

chromium:
	@scripts/ensure-chromium.sh

# nmap, testssl.sh, masscan for the binary-backed boefjes (apt-get when root).
# `make test` needs them: KAT_SCANNERS_REQUIRED=1 makes a missing one an error.
scanners:
	@KAT_SCANNERS_REQUIRED=$(if $(filter test,$(MAKECMDGOALS)),1,0) scripts/ensure-scanners.sh

redis:
	@scripts/ensure-redis.sh

bench: install rabbitmq postgres
	$(BIN)/python benchmarks/katalogus.py
	$(BIN)/python benchmarks/runtime.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
