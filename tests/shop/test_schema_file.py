from pathlib import Path

import pytest
from graphql import print_schema

from shop.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


@pytest.mark.smoke
def test_committed_schema_matches_the_code():
    """Every contract change must show up in review: regenerate with
    `python manage.py graphql_schema` and commit schema.graphql."""
    current = print_schema(schema.graphql_schema).strip()
    committed = SCHEMA_FILE.read_text(encoding="utf-8").strip()
    assert committed == current, "schema.graphql is stale: run `python manage.py graphql_schema`"
