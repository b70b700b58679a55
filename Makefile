# KAM: `make run` for a local demo on SQLite, `make test` for the full suite on real services.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PASSWORD ?= kam-demo-2026
# pytest-xdist processes for `make test`: one per core, at most 7 (each takes two Redis databases).
TEST_WORKERS ?= auto

.PHONY: run test fuzz lint format services browser migrate assets clean serve bench screenshots

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
	$(BIN)/python manage.py recompute_scores --history 5 --in-process
	@echo "Log in at http://$(HOST):$(PORT)/ as admin, lead, gam, nam1 or nam2 with password $(DEMO_PASSWORD)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Production-like on PostgreSQL and Redis: gunicorn + whitenoise, a Celery worker and beat, JSON
## logs (scripts/serve.sh; Ctrl-C stops all three). Defaults: database kam, Redis db 0 and 1.
serve: $(VENV)/.installed-run assets services
	HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

## Start PostgreSQL and Redis if they are down; fail loudly if they cannot be reached.
services:
	scripts/services.sh

## Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Style and security lint: ruff, and bandit (no medium or high finding; config in pyproject.toml).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -c pyproject.toml -r . -ll

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## The whole suite on PostgreSQL, Redis, a real Celery worker and headless Chromium, in parallel
## (pytest-xdist; each process has its own test database and Redis databases).
test: $(VENV)/.installed assets services browser lint
	DJANGO_SETTINGS_MODULE=kam.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest --create-db -p no:cacheprovider -n $(TEST_WORKERS) --maxprocesses 7 \
		--dist worksteal $(PYTEST_ARGS)

## Schemathesis alone: every API operation as a manager and a lead (also part of `make test`).
fuzz: $(VENV)/.installed services
	$(BIN)/python -m pytest --create-db -p no:cacheprovider -m fuzz tests/api/test_schemathesis.py

## Refresh docs/screenshots from the browser tests (a plain test run writes them to a temp dir).
screenshots: $(VENV)/.installed assets services browser
	KAM_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest --create-db -p no:cacheprovider tests/e2e/test_dashboard_browser.py

## Benchmarks at 100k accounts / 5M transactions (bench/README.md); writes bench/results.md.
bench: $(VENV)/.installed-run services
	$(BIN)/python bench/seed.py --accounts 100000 --transactions 5000000 --database kam_bench
	$(BIN)/python bench/recompute.py --database kam_bench --workers 1 2
	$(BIN)/python bench/api.py --database kam_bench
	$(BIN)/python bench/import_transactions.py --database kam_bench_imp --rows 100000 1000000
	$(BIN)/python bench/dashboard.py --database kam_bench
	$(BIN)/python bench/api.py --database kam_bench --overview

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles node_modules
