# Civic Node — two commands: `make run` (demo node on SQLite) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
PEERS := .peers
DATA ?= ./civic-data
PORT ?= 8080

.PHONY: run test lint peers browser clean help fuzz

help:
	@echo "make run   - install, seed a demo node and serve it on http://127.0.0.1:8080"
	@echo "make test  - install everything the tests need and run the whole suite"
	@echo "make fuzz  - 10,000 hostile signed activities through the inbox; figures in bench/RESULTS.md"

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
	@bash deploy/peers/install.sh $(PEERS) || echo "peers: some peers could not be installed; their interop tests will be skipped (see above)"

# Browser tests use Debian's chromium (Playwright's own browser download does not work offline)
# and axe-core for accessibility checks; without them those tests skip with a printed reason.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "browser: chromium present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser: installing chromium with apt-get"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "browser: chromium could not be installed; browser tests will be skipped"; \
	else echo "browser: chromium missing and not root; browser tests will be skipped"; fi
	@if [ -f $(PEERS)/axe/node_modules/axe-core/axe.min.js ]; then echo "browser: axe-core present"; \
	elif command -v npm >/dev/null; then mkdir -p $(PEERS)/axe && \
		npm install --silent --no-save --no-audit --no-fund --prefix $(PEERS)/axe axe-core@4.14.1 >/dev/null \
		&& echo "browser: axe-core installed" || echo "browser: axe-core could not be installed"; \
	else echo "browser: npm missing; accessibility checks will be skipped"; fi

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# The suite runs on one pytest-xdist worker per core the process may use (`-n auto` would count
# physical cores once psutil is installed: one on a two-vCPU machine); TEST_WORKERS=0 runs it in
# one process. Tests sharing peers or a browser stay on one worker (xdist_group, tests/conftest.py).
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: the suite starts hundreds of
# Python processes (`civic` commands, nodes, workers), each of which would compile the node again.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test: $(VENV)/.test-installed peers browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -ra -n $(TEST_WORKERS) --dist loadgroup

# Property-based fuzzing of the inbound path with 10,000 examples (the suite runs a few hundred).
fuzz: $(VENV)/.test-installed
	$(VENV)/bin/python bench/fuzz_inbound.py 10000

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache
