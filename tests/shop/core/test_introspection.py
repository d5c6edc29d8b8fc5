import pytest

from tests.conftest import top_level_codes

pytestmark = pytest.mark.smoke


def test_schema_introspection_is_refused_when_off(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    response = gql.raw("{ __schema { queryType { name } } }")
    assert response.status_code == 400
    assert top_level_codes(response.json()) == ["INTROSPECTION_DISABLED"]
    assert "data" not in response.json()


def test_type_introspection_is_refused_when_off_even_behind_an_alias(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    response = gql('{ t: __type(name: "Product") { name } }')
    assert top_level_codes(response) == ["INTROSPECTION_DISABLED"]


def test_introspection_inside_a_fragment_is_refused_when_off(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    response = gql("{ ...Q } fragment Q on Query { __schema { types { name } } }")
    assert top_level_codes(response) == ["INTROSPECTION_DISABLED"]


def test_typename_is_answered_when_introspection_is_off(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    assert gql("{ __typename me { __typename } }") == {"data": {"__typename": "Query", "me": None}}


def test_introspection_is_answered_when_on(gql, settings):
    settings.GRAPHQL_INTROSPECTION = True
    response = gql("{ __schema { queryType { name } } }")
    assert response == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
