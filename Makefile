# Civic Node — two commands: `make run` (demo node on SQLite) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
PEERS := .peers
DATA ?= ./civic-data
PORT ?= 8080

.PHONY: run test lint peers browser clean help

help:
	@echo "make run   - install, seed a demo node and serve it on http://127.0.0.1:8080"
	@echo "make test  - install everything the tests need and run the whole suite"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (apt-get install python3 python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/civic demo --data-dir $(DATA) --base-url http://127.0.0.1:$(PORT) --serve

peers:
	bash deploy/peers/install.sh $(PEERS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: $(VENV)/.test-installed peers
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -ra

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache
