# SunuSàv Risk Ops — the two commands are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_MEMBERS ?= 2000

.PHONY: demo setup test lint format bench clean-db stack stack-stop

$(STAMP): requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py models_sync
	$(BIN)/python manage.py sync_schedules
	$(BIN)/python manage.py cases_backfill

## First command: set up everything on a fresh machine and run web + worker.
demo: setup
	$(BIN)/python manage.py seed_demo --members $(DEMO_MEMBERS) --if-empty
	$(BIN)/python manage.py demo_activity
	$(BIN)/python manage.py demo_admin
	bash scripts/run.sh

## Second command: the test suite (SQLite by default; DATABASE_URL for PostgreSQL), one
## pytest-xdist worker per core, at most 4 (each worker has its own test database and Redis db).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Benchmarks: the seed-design service's packages (requirements-bench.txt) beside the product's.
bench: $(STAMP)
	$(BIN)/pip install -q -r requirements-bench.txt
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || echo "wrk missing: HTTP figures will report an error"
	$(BIN)/python -m benchmarks

## Production processes without Docker (gunicorn + credit and fraud clusters) on
## the PostgreSQL and Redis named by DATABASE_URL and REDIS_URL; docs/OPERATIONS.md.
stack: $(STAMP)
	bash scripts/stack.sh start

stack-stop:
	bash scripts/stack.sh stop

clean-db:
	rm -f var/db.sqlite3 var/db.sqlite3-wal var/db.sqlite3-shm
