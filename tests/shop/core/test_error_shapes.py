import json
import logging

import graphene
import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from shop.core.errors import PermissionDenied
from shop.core.graphql.view import ShopGraphQLView
from tests.conftest import top_level_codes

pytestmark = pytest.mark.smoke


class BrokenQuery(graphene.ObjectType):
    broken = graphene.String()
    forbidden = graphene.String()

    def resolve_broken(root, info):
        raise KeyError("secret_column_name")

    def resolve_forbidden(root, info):
        raise PermissionDenied()


def run_on_view(query: str) -> dict:
    """Serve `query` through the production view class with a schema that fails on purpose."""
    view = ShopGraphQLView.as_view(schema=graphene.Schema(query=BrokenQuery))
    request = RequestFactory().post(
        "/graphql/", json.dumps({"query": query}), content_type="application/json"
    )
    request.user = AnonymousUser()
    request.auth_error = None
    return json.loads(view(request).content)


def test_unexpected_exception_is_logged_and_not_leaked(caplog):
    with caplog.at_level(logging.ERROR, logger="shop.graphql"):
        response = run_on_view("{ broken }")
    error = response["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret_column_name" not in json.dumps(response)
    assert error["message"].startswith("Internal server error. Quote request id")
    assert "secret_column_name" in caplog.text


def test_permission_error_in_a_resolver_has_its_code():
    assert top_level_codes(run_on_view("{ forbidden }")) == ["PERMISSION_DENIED"]


def test_unknown_field_is_a_validation_error(gql):
    response = gql("{ nope }")
    assert top_level_codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Cannot query field 'nope'" in response["errors"][0]["message"]


def test_syntax_error_is_a_parse_error(gql):
    assert top_level_codes(gql("{ me { ")) == ["GRAPHQL_PARSE_FAILED"]


def test_every_response_carries_a_request_id(gql, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's address: its id is kept
    response = gql.raw("{ me { email } }", HTTP_X_REQUEST_ID="trace-123")
    assert response["X-Request-ID"] == "trace-123"
    generated = gql.raw("{ nope }")
    assert len(generated["X-Request-ID"]) == 32
    assert generated.json()["errors"][0]["extensions"]["requestId"] == generated["X-Request-ID"]


def test_mutations_are_refused_over_get(gql):
    response = gql.http.get(
        "/graphql/", {"query": 'mutation { tokenVerify(token: "x") { isValid } }'}
    )
    assert response.status_code == 405


def test_graphiql_is_served_in_debug_only(gql, settings):
    settings.DEBUG = True
    response = gql.http.get("/graphql/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()
    settings.DEBUG = False
    response = gql.http.get("/graphql/", HTTP_ACCEPT="text/html")
    assert b"graphiql" not in response.content.lower()


def test_a_session_cookie_does_not_authenticate_the_api(gql):
    from shop.accounts.models import Role
    from tests.factories import UserFactory

    operator = UserFactory(role=Role.OPERATOR, is_staff=True)
    gql.http.force_login(operator)  # e.g. signed in to /admin/ in the same browser
    assert gql("{ me { email } }") == {"data": {"me": None}}
    assert gql("{ me { email } }", user=operator) == {"data": {"me": {"email": operator.email}}}


class Picky(graphene.Scalar):
    """A scalar whose parser raises a plain exception, as third-party scalars do."""

    serialize = parse_value = staticmethod(str)

    @staticmethod
    def parse_literal(node, _variables=None):
        raise ValueError("not a picky value")


class PickyQuery(graphene.ObjectType):
    echo = graphene.String(value=Picky())


def test_a_scalar_refusing_a_literal_is_bad_input_not_an_internal_error():
    view = ShopGraphQLView.as_view(schema=graphene.Schema(query=PickyQuery))
    body = {"query": '{ echo(value: "x") }'}
    request = RequestFactory().post("/graphql/", json.dumps(body), content_type="application/json")
    request.user = AnonymousUser()
    request.auth_error = None
    response = view(request)
    assert response.status_code == 400
    assert top_level_codes(json.loads(response.content)) == ["BAD_USER_INPUT"]
