# The two commands of the README: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_RUN := $(VENV)/.installed-run

OIDC_PEER := tests/oidc_provider/node_modules/.package-lock.json

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

# The independent OpenID provider (npm's oidc-provider) the security tests sign in through.
$(OIDC_PEER): tests/oidc_provider/package-lock.json
	cd tests/oidc_provider && npm ci --no-audit --no-fund --loglevel=error

test: $(STAMP_TEST) $(OIDC_PEER)
	./scripts/ensure-debian-packages.sh
	$(PY) -m pytest -q

bench: $(STAMP_TEST)
	./benchmarks/_prepare.sh
	$(PY) -m benchmarks

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check aadweb tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache tests/oidc_provider/node_modules
