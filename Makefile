# Shanhai: the two commands of README.md, and a few helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-postgres test-sqlite system-deps lint format schema deploy-check

# Create the virtualenv and install pinned dependencies (again when pyproject.toml changes).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Serve the API with demo data on the embedded default (SQLite, database search).
serve: $(STAMP)
	$(BIN)/python manage.py serve_demo 127.0.0.1:8000

## The whole test suite: first the system packages it needs (installed when run as root with apt,
## otherwise one line per missing piece and a stop), then everything on a PostgreSQL the run starts
## itself, then the smoke suite on the embedded SQLite default.
test: system-deps test-postgres test-sqlite

system-deps:
	scripts/ensure-system-deps.sh

test-postgres: system-deps $(STAMP)
	$(BIN)/pytest

test-sqlite: $(STAMP)
	DATABASE_URL=sqlite:///$(CURDIR)/.pytest-smoke.sqlite3 $(BIN)/pytest -m smoke

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/python manage.py graphql_schema

## On a deployed server, with its environment loaded (docs/deploy.md): Django's deployment
## checks with warnings as failures, then the readiness probe at READYZ_URL when it is set
## (e.g. READYZ_URL=https://shanhai.example.org/readyz): only a 200 passes, so a redirect (an
## http:// URL meeting SECURE_SSL_REDIRECT) fails rather than passing unnoticed. Uses the
## installed .venv; installs nothing.
deploy-check:
	$(BIN)/python manage.py check --deploy --fail-level WARNING
	@if [ -n "$(READYZ_URL)" ]; then \
		status=$$(curl --silent --show-error --max-time 10 --output /dev/null \
			--write-out '%{http_code}' "$(READYZ_URL)"); \
		echo "deploy-check: $(READYZ_URL) answered $$status"; \
		[ "$$status" = 200 ]; \
	else \
		echo "deploy-check: READYZ_URL is not set, so readiness was not probed"; \
	fi
