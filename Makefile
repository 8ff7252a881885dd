# Every target creates (or refreshes) the virtual environment it needs; Python 3.11+ is the only prerequisite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= staging
PYRIGHT_VERSION := 1.1.414
REQUIREMENTS := requirements.txt requirements-dev.txt policies/requirements.txt app/requirements.txt app/requirements-test.txt

.PHONY: venv preview test test-infra test-app lint shop bench bench-preview bench-shop clean

$(VENV)/.installed: $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

## Offline preview of one stack (STACK=staging|prod): no Pulumi CLI, no AWS credentials, no network.
preview: venv
	$(PY) -m stacks preview $(STACK)

## The whole test suite: infrastructure plans, policies, tooling and the shop app.
test: venv
	$(PY) -m pytest

test-infra: venv
	$(PY) -m pytest tests

test-app: venv
	$(PY) -m pytest app/tests

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	npx --yes pyright@$(PYRIGHT_VERSION) --pythonpath $(PY)

## The shop locally at http://127.0.0.1:8000 with SQLite, an in-process cache and local image files.
shop: venv
	cd app && ../$(PY) -m shop serve --dev

bench: bench-preview bench-shop

bench-preview: venv
	$(PY) bench/preview.py

bench-shop: venv
	$(PY) bench/shop.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
