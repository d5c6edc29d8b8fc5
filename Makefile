# Shanhai: the two commands of README.md, and a few helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-postgres test-sqlite lint format schema

# Create the virtualenv and install pinned dependencies (again when pyproject.toml changes).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Serve the API with demo data on the embedded default (SQLite, database search).
serve: $(STAMP)
	$(BIN)/python manage.py serve_demo 127.0.0.1:8000

## The whole test suite: everything on a PostgreSQL the run starts itself, then the
## smoke suite on the embedded SQLite default.
test: test-postgres test-sqlite

test-postgres: $(STAMP)
	$(BIN)/pytest

test-sqlite: $(STAMP)
	DATABASE_URL=sqlite:///$(CURDIR)/.pytest-smoke.sqlite3 $(BIN)/pytest -m smoke

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/python manage.py graphql_schema
