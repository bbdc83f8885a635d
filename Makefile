# Two set-up commands that work on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint typecheck pytest chromium airflow clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls several GB of CUDA packages
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Apache Airflow in its own virtualenv (its pins conflict with the service's): the DAG test
# (tests/integrations/test_airflow_dag.py) runs integrations/airflow in it. No opticite import there.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_VERSION := 3.3.2

$(AIRFLOW_STAMP): integrations/airflow/pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PY) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install -q --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install -q apache-airflow==$(AIRFLOW_VERSION) -e './integrations/airflow[s3,test]'
	touch $(AIRFLOW_STAMP)

airflow: $(AIRFLOW_STAMP)

# MALLOC_ARENA_MAX as in the Dockerfile: fewer malloc arenas, a lower peak RSS at the same speed
serve: $(STAMP)
	MALLOC_ARENA_MAX=2 $(BIN)/opticite serve --host $(HOST) --port $(PORT)

# Debian's Chromium for the UI tests (Playwright drives /usr/bin/chromium; no browser download).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: UI tests will skip"

lint: $(STAMP)
	$(BIN)/ruff check ingest retrieval api tests bench integrations

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/pytest $(PYTEST_ARGS)

test: chromium airflow lint typecheck pytest

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .pytest_cache .mypy_cache .ruff_cache
