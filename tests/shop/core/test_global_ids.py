"""Relay IDs and cursors resolve only in the exact form the API hands out."""

import base64

import pytest
from graphql_relay import to_global_id

from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.factories.procurement import AgencyFactory

pytestmark = pytest.mark.smoke

AGENCY = "query($id: ID!) { agency(id: $id) { name } }"


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def lookalikes(pk: int) -> dict[str, str]:
    digits = str(pk)
    return {
        "space": encoded(f"Agency: {digits}"),
        "plus sign": encoded(f"Agency:+{digits}"),
        "leading zero": encoded(f"Agency:0{digits}"),
        "underscore": encoded(f"Agency:{digits[0]}_{digits[1:]}" if len(digits) > 1 else "x"),
        "fullwidth digits": encoded(
            "Agency:" + digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        ),
        "arabic-indic digits": encoded(
            "Agency:" + digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        ),
        "type in lower case": encoded(f"agency:{digits}"),
        "whitespace around": " " + to_global_id("Agency", pk) + "\n",
    }


@pytest.fixture
def agency(db):
    # An id with two digits at least, so that every look-alike can be built.
    agency = AgencyFactory()
    while agency.pk < 10:
        agency = AgencyFactory()
    return agency


def test_the_canonical_id_resolves(gql, operator, agency):
    response = gql(AGENCY, {"id": to_global_id("Agency", agency.pk)}, user=operator)
    assert response == {"data": {"agency": {"name": agency.name}}}


@pytest.mark.parametrize("form", list(lookalikes(12)))
def test_a_look_alike_id_does_not_resolve(gql, operator, agency, form):
    global_id = lookalikes(agency.pk)[form]
    assert gql(AGENCY, {"id": global_id}, user=operator) == {"data": {"agency": None}}


@pytest.mark.parametrize("digits", ["9" * 19, "9" * 40, str(2**63)])
def test_an_id_beyond_bigint_does_not_resolve(gql, operator, digits):
    response = gql(AGENCY, {"id": encoded(f"Agency:{digits}")}, user=operator)
    assert response == {"data": {"agency": None}}


def test_a_look_alike_id_in_a_mutation_is_not_found_and_changes_nothing(gql, operator):
    target = UserFactory()
    response = gql(
        "mutation($id: ID!) { userDeactivate(id: $id) { errors { field code } } }",
        {"id": encoded(f"User: {target.pk}")},
        user=operator,
    )
    assert response == {
        "data": {"userDeactivate": {"errors": [{"field": "id", "code": "NOT_FOUND"}]}}
    }
    target.refresh_from_db()
    assert target.is_active


def test_a_look_alike_id_in_a_filter_is_bad_input(gql, operator, agency):
    response = gql(
        "query($a: [ID!]) { orders(filter: {agencies: $a}) { totalCount } }",
        {"a": [encoded(f"Agency: {agency.pk}")]},
        user=operator,
    )
    assert top_level_codes(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "cursor",
    [
        encoded("arrayconnection:" + "9" * 40),
        encoded(f"arrayconnection:{2**63 - 1}"),
        encoded("arrayconnection:３"),
        encoded("arrayconnection: 3"),
        encoded("arrayconnection:-1"),
        # Users are ordered by e-mail, which is unique: the cursor holds it alone.
        encoded('["Query.users:email", ["a@example.com"]]'),  # not compact
        encoded('["Query.users:email",[1]]'),  # a number for a text key
        encoded('["Query.users:email",[]]'),
        encoded('["Query.users:email",["a@example.com",1]]'),  # with an id it does not hold
        encoded('["Query.users:email,pk",["a@example.com",1]]'),  # another order
        encoded('["Query.users:email",[null]]'),  # email is never NULL
        encoded('["Query.users:-email",["a@example.com"]]'),
        encoded('["Query.agencies:pk",[1]]'),
        encoded('["Query.users:email",["a@example.com"]]') + "=",
    ],
)
def test_a_cursor_not_of_ours_is_bad_input(gql, operator, cursor):
    response = gql(
        "query($a: String) { users(first: 2, after: $a) { totalCount } }",
        {"a": cursor},
        user=operator,
    )
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert response["errors"][0]["message"].startswith("`after` is not a valid cursor")


def test_a_cursor_far_past_the_end_is_an_empty_page(gql, operator):
    response = gql(
        "query($a: String) { users(first: 2, after: $a) { edges { node { email } } } }",
        {"a": encoded('["Query.users:email",["~~~"]]')},
        user=operator,
    )
    assert response == {"data": {"users": {"edges": []}}}
