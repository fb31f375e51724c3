# The two commands of the README: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_RUN := $(VENV)/.installed-run

.PHONY: run test bench lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test,dev,bench]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(PY) -m aadweb demo --port 5000 --emulator-port 5001

test: $(STAMP_TEST)
	./scripts/ensure-debian-packages.sh
	$(PY) -m pytest -q

bench: $(STAMP_TEST)
	./benchmarks/_prepare.sh
	$(PY) -m benchmarks

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check aadweb tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
