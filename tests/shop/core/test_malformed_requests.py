"""Malformed requests are answered with JSON, a 4xx status, a code and a request id, and never
reach a resolver."""

import json

import pytest
from graphql_relay import to_global_id

from shop.accounts.tokens import create_access_token
from tests.conftest import top_level_codes
from tests.factories import UserFactory

pytestmark = pytest.mark.smoke


def post(gql, body: bytes | str, content_type: str = "application/json", **extra):
    return gql.http.post("/graphql/", body, content_type=content_type, **extra)


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert top_level_codes(body) == [code]
    assert body["errors"][0]["extensions"]["requestId"] == response["X-Request-ID"]
    return body


def test_variables_that_are_not_an_object_are_bad_input(gql):
    response = post(gql, json.dumps({"query": "{ me { email } }", "variables": [1]}))
    body = assert_refused(response, 400, "BAD_USER_INPUT")
    assert body["errors"][0]["message"] == "`variables` must be a JSON object."


def test_a_query_that_is_not_a_string_is_bad_input(gql):
    body = assert_refused(post(gql, json.dumps({"query": 5})), 400, "BAD_USER_INPUT")
    assert body["errors"][0]["message"] == "`query` must be a string."


def test_an_operation_name_that_is_not_a_string_is_bad_input(gql):
    response = post(gql, json.dumps({"query": "{ me { email } }", "operationName": 5}))
    assert_refused(response, 400, "BAD_USER_INPUT")


def test_a_batched_array_is_refused_without_running_any_of_it(gql, operator):
    target = UserFactory()
    deactivate = "mutation($id: ID!) { userDeactivate(id: $id) { errors { code } } }"
    operation = {"query": deactivate, "variables": {"id": to_global_id("User", target.pk)}}
    token = create_access_token(operator)
    response = post(gql, json.dumps([operation]), HTTP_AUTHORIZATION=f"Bearer {token}")
    body = assert_refused(response, 400, "BAD_USER_INPUT")
    assert "Batched requests are not supported" in body["errors"][0]["message"]
    target.refresh_from_db()
    assert target.is_active


def test_invalid_json_is_bad_input(gql):
    body = assert_refused(post(gql, '{"query": '), 400, "BAD_USER_INPUT")
    assert body["errors"][0]["message"] == "The body is not valid JSON."


def test_a_body_that_is_not_utf8_is_bad_input(gql):
    assert_refused(post(gql, b'{"query": "\xff"}'), 400, "BAD_USER_INPUT")


def test_a_json_body_that_is_not_an_object_is_bad_input(gql):
    assert_refused(post(gql, '"{ me { email } }"'), 400, "BAD_USER_INPUT")


def test_5000_deep_json_variables_are_bad_input(gql):
    deep = "[" * 5000 + "]" * 5000
    body = '{"query": "query($v: [ID!]) { me { email } }", "variables": {"v": ' + deep + "}}"
    response = post(gql, body)
    assert_refused(response, 400, "BAD_USER_INPUT")
    assert "nested too deeply" in response.json()["errors"][0]["message"]


def test_json_variables_deeper_than_the_nesting_limit_are_bad_input(gql):
    # Deep enough for graphql-core's recursive coercion, shallow enough for the JSON parser.
    variables = {"v": json.loads("[" * 500 + "]" * 500)}
    response = gql.raw("query($v: [ID!]) { me { email } }", variables)
    body = assert_refused(response, 400, "BAD_USER_INPUT")
    assert body["errors"][0]["message"] == "`variables` nest more than 64 deep."


def test_a_mutation_over_get_is_method_not_allowed(gql):
    response = gql.http.get(
        "/graphql/", {"query": 'mutation { tokenVerify(token: "x") { isValid } }'}
    )
    assert_refused(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "POST"


def test_other_methods_are_method_not_allowed(gql):
    response = gql.http.put("/graphql/", "{}", content_type="application/json")
    assert_refused(response, 405, "METHOD_NOT_ALLOWED")


def test_a_bad_token_is_answered_401_with_a_request_id(gql):
    assert_refused(gql.raw("{ me { email } }", token="garbage"), 401, "UNAUTHENTICATED")


def test_an_oversized_body_is_answered_413_with_a_request_id(gql, settings):
    settings.GRAPHQL_MAX_BODY_BYTES = 100
    assert_refused(gql.raw("{ me { email } }" + " " * 200), 413, "REQUEST_TOO_LARGE")


def test_malformed_multipart_operations_are_bad_input(gql):
    response = gql.http.post("/graphql/", {"operations": "{not json", "map": "{}"})
    assert_refused(response, 400, "BAD_USER_INPUT")


def test_a_multipart_map_pointing_nowhere_is_bad_input(gql):
    operations = json.dumps({"query": "{ me { email } }", "variables": {}})
    response = gql.http.post(
        "/graphql/", {"operations": operations, "map": json.dumps({"0": ["variables.file"]})}
    )
    assert_refused(response, 400, "BAD_USER_INPUT")


def test_a_well_formed_get_query_is_still_answered(gql):
    response = gql.http.get("/graphql/", {"query": "{ me { email } }", "variables": "{}"})
    assert response.status_code == 200
    assert response.json() == {"data": {"me": None}}
