# KAM: `make run` for a local demo on SQLite, `make test` for the full suite on real services.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PASSWORD ?= kam-demo-2026

.PHONY: run test fuzz lint format services browser migrate assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What the app needs to run; the test tools come on top for `make test`.
$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed-run $@

# Browser assets (Chart.js) from the npm registry, pinned by package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

assets: node_modules/.package-lock.json

migrate: $(VENV)/.installed-run
	$(BIN)/python manage.py migrate --noinput

## Set everything up and serve the demo on http://127.0.0.1:8000 (SQLite, tasks in-process).
run: migrate assets
	$(BIN)/python manage.py seed_demo --demo-users --password "$(DEMO_PASSWORD)" --if-empty
	$(BIN)/python manage.py recompute_scores
	@echo "Log in at http://$(HOST):$(PORT)/ as admin, lead, gam, nam1 or nam2 with password $(DEMO_PASSWORD)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Start PostgreSQL and Redis if they are down; fail loudly if they cannot be reached.
services:
	scripts/services.sh

## Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## The whole suite on PostgreSQL, Redis, a real Celery worker and headless Chromium.
test: $(VENV)/.installed assets services browser lint
	DJANGO_SETTINGS_MODULE=kam.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest --create-db -p no:cacheprovider $(PYTEST_ARGS)

## Schemathesis alone: every API operation as a manager and a lead (also part of `make test`).
fuzz: $(VENV)/.installed services
	$(BIN)/python -m pytest --create-db -p no:cacheprovider -m fuzz tests/api/test_schemathesis.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles node_modules
