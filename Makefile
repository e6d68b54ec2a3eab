# AutoCRM. Quick start: `make run` (demo server) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
HOST ?= 127.0.0.1
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help setup setup-dev run serve worker inbox-worker scheduler migrate demo test test-fast e2e lint format bench messages check-deploy clean

help:
	@echo "make run     install, migrate, load demo data, serve on $(HOST):$(PORT) with a task worker"
	@echo "make test    install test dependencies (incl. Debian chromium) and run the whole suite"
	@echo "make setup   install only (idempotent); make worker; make inbox-worker; make scheduler; make lint; make bench"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@# Debian ships venv separately (python3-venv); install it when missing and we are root.
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && rm -rf $(VENV) \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
	  && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP) pdf-packages
	@mkdir -p var

setup-dev: $(DEV_STAMP) system-packages pdf-packages .env
	@mkdir -p var

# Developer machines only: lets `python manage.py ...` run in the checkout without
# exporting DEBUG=1. Environment variables still win; production has no such file.
.env:
	@printf '# Written by make setup-dev for this developer checkout; do not deploy it.\nDEBUG=1\n' > $@

# WeasyPrint (PDF invoices, contracts, acts) needs Pango and a font with Cyrillic letters.
.PHONY: pdf-packages
pdf-packages:
	@if ! ldconfig -p | grep -q libpangoft2-1.0 || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Pango and DejaVu fonts for PDF documents"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null; \
	  else \
	    echo "PDF documents need Pango: run 'sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core'" >&2; \
	  fi; \
	fi

# Debian packages the tests need; installed only when missing and when we may (root).
.PHONY: system-packages
system-packages:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	  else \
	    echo "Debian's chromium is missing: run 'sudo apt-get install chromium' (browser tests need /usr/bin/chromium)" >&2; exit 1; \
	  fi; \
	fi

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --if-empty

# Development quick start: DEBUG on, SQLite under var/ unless DATABASE_URL says otherwise.
run: export DEBUG ?= 1
# The E-Credit simulator calls back to where this server listens.
run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: demo
	@$(PY) manage.py seed_demo --print-logins
	@echo "AutoCRM on http://$(HOST):$(PORT)/  (health: http://$(HOST):$(PORT)/healthz)"
	@echo "Simulators: Telegram/WhatsApp/VK http://127.0.0.1:8081/  mail http://127.0.0.1:8025/  PBX http://127.0.0.1:8082/  E-Credit http://127.0.0.1:8083/"
	@trap 'kill 0' EXIT INT TERM; \
	  $(PY) manage.py db_worker --no-reload & \
	  $(PY) manage.py scheduler & \
	  $(PY) manage.py process_inbox & \
	  $(PY) -m simulators --crm http://$(HOST):$(PORT) & \
	  $(BIN)/granian --interface wsgi --host $(HOST) --port $(PORT) --workers 1 --blocking-threads 4 \
	    --log-level warning autocrm.config.wsgi:application

serve: setup
	$(BIN)/granian --interface wsgi --host $(HOST) --port $(PORT) autocrm.config.wsgi:application

worker: setup
	$(PY) manage.py db_worker --no-reload

inbox-worker: setup
	$(PY) manage.py process_inbox

scheduler: setup
	$(PY) manage.py scheduler

test: setup-dev
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: setup-dev
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

e2e: setup-dev
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy autocrm
	$(BIN)/lint-imports

format: setup-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Hot reads of the platform, then the stock search (API next to bare SQL) on a scratch
# database that later runs reuse: BENCH_SEARCH_ARGS="--vehicles 200000 --rebuild".
bench: setup-dev
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/search.py $(BENCH_SEARCH_ARGS)
	$(PY) bench/webhooks.py $(BENCH_HOOKS_ARGS)
	$(PY) bench/clients.py $(BENCH_CLIENTS_ARGS)
	$(PY) bench/funnel.py $(BENCH_FUNNEL_ARGS)
	$(PY) bench/credit.py $(BENCH_CREDIT_ARGS)

messages: setup-dev
	cd autocrm && DEBUG=1 ../$(PY) ../manage.py makemessages -l ru --no-obsolete && DEBUG=1 ../$(PY) ../manage.py compilemessages

check-deploy: setup
	DEBUG=0 SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=crm.example.com \
	  PII_ENCRYPTION_KEYS="$$($(PY) -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
	  $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var/static .pytest_cache .mypy_cache .ruff_cache
