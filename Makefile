# Dockside: `make run` starts the service with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres)
TEST_REDIS_URL := $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: run test install lint format check-services browser simulate help

help:
	@echo "make run    start Dockside with demo data on http://$(HOST):$(PORT)"
	@echo "make test   install test needs and run ruff + the whole test suite on PostgreSQL"
	@echo "make simulate  play a whole warehouse day through the API and check it (SIMULATE_ARGS=)"

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "  Dockside is starting on http://$(HOST):$(PORT)/"
	@echo "  Admin:    http://$(HOST):$(PORT)/admin/     (login: manager / dockside-demo)"
	@echo "  API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo "  Other demo logins: dock, inspector, picker, dispatcher (same password)"
	@if [ -n "$$REDIS_URL" ]; then echo "  Celery worker, beat and outbox relay: started (broker $$REDIS_URL)"; \
	  else echo "  No REDIS_URL: background tasks run inline."; fi
	@echo
	@if [ -n "$$REDIS_URL" ]; then \
	  $(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=2 & worker=$$!; \
	  $(VENV)/bin/celery -A config beat --loglevel=INFO --schedule=var/celerybeat-schedule & beat=$$!; \
	  $(PY) manage.py relay_outbox & relay=$$!; \
	  trap 'kill $$worker $$beat $$relay 2>/dev/null; wait $$worker $$beat $$relay 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver --noreload $(HOST):$(PORT); \
	else \
	  $(PY) manage.py runserver --noreload $(HOST):$(PORT); \
	fi

check-services: install
	@# The server is what matters: the tests create their own test_<name> database on it.
	@$(PY) -c 'import sys, psycopg; psycopg.connect(sys.argv[1], dbname="postgres", connect_timeout=3).close()' \
	  "$(TEST_DATABASE_URL)" 2>/dev/null || { \
	  echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL)."; \
	  echo "Start it with: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start"; \
	  echo "(or set DATABASE_URL to a PostgreSQL you can reach)"; exit 1; }
	@$(PY) -c 'import sys, redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()' \
	  "$(TEST_REDIS_URL)" 2>/dev/null || { \
	  echo "Redis is not reachable at $(TEST_REDIS_URL)."; \
	  echo "Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"; \
	  echo "(or set REDIS_URL to a Redis you can reach)"; exit 1; }

# A day in the warehouse through the public API (bench/simulate): starts its own service on
# PostgreSQL and Redis (database dockside_simulation), prints the summary and its checks.
SIMULATE_ARGS ?=
simulate: install check-services
	$(PY) -m bench.simulate --postgres "$$(dirname "$(TEST_DATABASE_URL)")" \
	  --redis-url "$(TEST_REDIS_URL)" $(SIMULATE_ARGS)

# The browser tests drive Debian's Chromium through its chromedriver.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Tests run Celery tasks inline; the Redis URL is passed separately to the tests that use Redis.
test: install check-services browser
	$(VENV)/bin/ruff check .
	env -u REDIS_URL DATABASE_URL="$(TEST_DATABASE_URL)" DOCKSIDE_TEST_REDIS_URL="$(TEST_REDIS_URL)" \
	  $(PY) -m pytest
