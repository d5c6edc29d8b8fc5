"""Parsing and validation are remembered per query text, never across settings that change
their outcome, and the limits that depend on the variables still run on every request."""

import pytest

from shop.core.graphql.view import _cached_validation
from tests.conftest import top_level_codes

pytestmark = pytest.mark.smoke

SCHEMA_QUERY = "{ __schema { queryType { name } } }"


def test_a_repeated_query_is_parsed_and_validated_once(gql):
    query = "{ categories { name } __typename }"
    gql(query)
    before = _cached_validation.cache_info()
    assert gql(query)["data"]["__typename"] == "Query"
    after = _cached_validation.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits


def test_turning_introspection_off_applies_to_a_query_already_remembered(gql, settings):
    settings.GRAPHQL_INTROSPECTION = True
    assert gql(SCHEMA_QUERY)["data"]["__schema"]["queryType"]["name"] == "Query"
    settings.GRAPHQL_INTROSPECTION = False
    assert top_level_codes(gql(SCHEMA_QUERY)) == ["INTROSPECTION_DISABLED"]


def test_a_lower_depth_limit_applies_to_a_query_already_remembered(gql, settings):
    query = "{ categories { name } }"
    assert "errors" not in gql(query)
    settings.GRAPHQL_MAX_DEPTH = 1
    assert top_level_codes(gql(query)) == ["QUERY_TOO_COMPLEX"]


def test_the_cost_is_checked_per_request_with_its_variables(gql, settings):
    settings.GRAPHQL_MAX_COST = 50
    query = "query($n: Int) { products(first: $n) { edges { node { name } } } }"
    assert "errors" not in gql(query, {"n": 1})
    assert top_level_codes(gql(query, {"n": 40})) == ["QUERY_TOO_COMPLEX"]
