# Finds a Python >= 3.12 itself: the default python3 may be older, and pyenv shims may fail.
PYTHON ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 /usr/local/bin/python3 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest install clean bench verify dashboard-images load-test embed-core perf-check perf-baseline

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found (tried python3.13, python3.12, ~/.pyenv/versions/3.1[23]*)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,tui,otel]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/axio-anthropic demo

CHECKED := src tests benchmarks dashboards verify

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/python dashboards/build.py --check

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

# Real Prometheus + simulator + several load processes: every panel query and alert rule (~2 min).
verify: $(STAMP)
	AXIO_VERIFY=1 $(BIN)/pytest -q tests/test_verification.py

# 1,000 concurrent streams against a simulator process, with and without 10 % faults (~35 s; CI runs it).
load-test: $(STAMP)
	$(BIN)/pytest -q -rA tests/load

# The transport as a core install has it (`pip install .`: no extras, no OpenTelemetry SDK), in a
# fresh venv: the default-embedding matrix (tests/embedding), Vertex AI and Bedrock refused naming
# their extras (tests/core_install_check.py), the demo and a short load run (~1 min).
CORE_VENV ?= .venv-core
embed-core:
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found"; exit 1; }
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q --upgrade pip
	$(CORE_VENV)/bin/python -m pip install -q .
	$(CORE_VENV)/bin/python -m tests.embedding --env core
	$(CORE_VENV)/bin/python -m tests.core_install_check
	$(CORE_VENV)/bin/axio-anthropic demo
	$(CORE_VENV)/bin/axio-anthropic load --duration 3 --concurrency 4 --quiet

# The performance gate: instructions counted by valgrind (callgrind) against the committed
# benchmarks/perf/baseline.json; fails on any count more than 3 % above it (~1 min with its venv; CI runs it).
# Its own venv, every package pinned by benchmarks/perf/constraints.txt: counts move with versions.
PERF_VENV ?= .venv-perf
PERF_STAMP := $(PERF_VENV)/.installed
PERF := PYTHONPATH=benchmarks $(PERF_VENV)/bin/python -m perf

$(PERF_STAMP): benchmarks/perf/constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found"; exit 1; }
	rm -rf $(PERF_VENV)
	$(PYTHON) -m venv $(PERF_VENV)
	$(PERF_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r benchmarks/perf/constraints.txt
	$(PERF_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	$(PERF_VENV)/bin/python -m pip check
	@touch $(PERF_STAMP)

perf-check: $(PERF_STAMP)
	$(PERF) check

# Rewrites the baseline: only for a deliberate trade, said in the commit message (README: The performance gate).
perf-baseline: $(PERF_STAMP)
	$(PERF) baseline

# Renders docs/img/*.png from the last verification run's series.
dashboard-images: $(STAMP)
	$(BIN)/python verify/render.py

bench: $(STAMP)
	$(BIN)/python benchmarks/decoder.py

clean:
	rm -rf $(VENV) $(CORE_VENV) $(PERF_VENV) .mypy_cache .pytest_cache .ruff_cache
