# The README's commands. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system-deps demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

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

demo: install
	$(BIN)/python -m engine.cli.demo
	$(BIN)/contractflow serve --host $(HOST) --port $(PORT)

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) contractflow.db contractflow.db-* .contractflow .pytest_cache .mypy_cache .ruff_cache
