# The README's commands. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 8000

# Python 3.13 (durable_rules cannot load there: the Python risk backend runs, see README).
PY313 ?= $(shell { ls /root/.pyenv/versions/3.13.*/bin/python 2>/dev/null || command -v python3.13; } | tail -1)
VENV313 := .venv313
# What runs on 3.13: every unit test (the durable-only ones skip, saying why), the
# operations tests and the CLI start-up; the integration suites (browser, LibreOffice,
# Prefect, PostgreSQL) run once, on 3.11, to keep CI within its time.
PY313_TESTS ?= tests/unit tests/integration/ops tests/integration/test_cli_startup.py

.PHONY: install system-deps demo test test-py313 lint bench clean constraints

install: $(STAMP)

# constraints.txt pins every transitive dependency (pyproject.toml pins the direct ones).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -c constraints.txt
	touch $(STAMP)

# Re-pin after changing a dependency in pyproject.toml (run from a fresh 3.11 .venv).
constraints: install
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^contractflow'; } > constraints.new
	mv constraints.new constraints.txt

# Debian packages the browser and document tests drive: chromium, LibreOffice, CJK fonts.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-writer-nogui"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	fc-list 2>/dev/null | grep -qi 'noto.*cjk' || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install system-deps lint
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_ADMIN_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "PostgreSQL answers at $(PG_ADMIN_URL): the suite runs on SQLite and PostgreSQL"; \
	  export CONTRACTFLOW_TEST_DATABASE_URL='$(PG_ADMIN_URL)'; \
	else \
	  echo "PostgreSQL does not answer: the suite runs on SQLite only"; \
	fi; \
	$(BIN)/pytest
	$(MAKE) test-py313

test-py313:
	@if [ -z "$(PY313)" ]; then echo "test-py313: no Python 3.13 here; skipped"; exit 0; fi; \
	test -x $(VENV313)/bin/python || $(PY313) -m venv $(VENV313); \
	if [ ! $(VENV313)/.installed-stamp -nt constraints.txt ] || [ pyproject.toml -nt $(VENV313)/.installed-stamp ]; then \
	  $(VENV313)/bin/python -m pip install --quiet --upgrade pip && \
	  $(VENV313)/bin/python -m pip install --quiet -e '.[test]' -c constraints.txt && \
	  touch $(VENV313)/.installed-stamp; \
	fi; \
	$(VENV313)/bin/pytest -m 'not slow' -p no:cacheprovider $(PY313_TESTS)

demo: install
	$(BIN)/python -m engine.cli.demo
	$(BIN)/contractflow serve --host $(HOST) --port $(PORT)

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(VENV313) contractflow.db contractflow.db-* .contractflow .pytest_cache .mypy_cache .ruff_cache

# Message catalogs: extract `_()` / `{% trans %}` strings, then update engine/locale/*/messages.po.
.PHONY: i18n-extract
i18n-extract: install
	$(BIN)/pybabel extract -F babel.cfg -o engine/locale/messages.pot --no-location .
	$(BIN)/pybabel update -i engine/locale/messages.pot -d engine/locale -D messages --no-fuzzy-matching
