"""Values every argument refuses, whatever the field: non-finite or absurd decimals, dates
outside 2000-01-01..2100-12-31, control characters in strings. Each is a top-level
BAD_USER_INPUT with a request id, and nothing is written."""

import pytest

from procurement.models import ContributionEntry, Target
from tests.conftest import top_level_codes

pytestmark = pytest.mark.smoke

PRODUCTS = """query($f: ProductFilterInput) { products(filter: $f) { totalCount } }"""
ADJUST = """mutation($i: ContributionAdjustInput!) { contributionAdjust(input: $i) {
    contribution { reason } errors { field code message } } }"""
TARGET = """mutation($i: TargetCreateInput!) { targetCreate(input: $i) {
    target { code } errors { field code message } } }"""
ORDERS = """query($f: OrderFilterInput) { orders(filter: $f) { totalCount } }"""


def adjustment(**changes) -> dict:
    return {"amount": "10.00", "businessDate": "2026-01-01", "reason": "更正", **changes}


def target(**changes) -> dict:
    return {
        "code": "T-2026",
        "name": "2026",
        "amount": "1000.00",
        "startDate": "2026-01-01",
        "endDate": "2026-12-31",
        **changes,
    }


def assert_bad_user_input(response: dict) -> None:
    assert top_level_codes(response) == ["BAD_USER_INPUT"], response
    assert response["errors"][0]["extensions"]["requestId"]


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "Infinity", "sNaN", "1E+1000"])
def test_a_non_finite_or_absurd_decimal_in_a_price_filter_is_bad_user_input(gql, value):
    response = gql(PRODUCTS, {"f": {"price": {"gte": value}}})
    assert_bad_user_input(response)
    assert "data" not in response or response["data"] is None


def test_infinity_written_in_the_query_is_bad_user_input(gql):
    response = gql('{ products(filter: {price: {lte: "Infinity"}}) { totalCount } }')
    assert_bad_user_input(response)
    assert "finite number" in response["errors"][0]["message"]


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"])
def test_a_date_outside_the_supported_range_is_refused_and_nothing_booked(gql, operator, day):
    response = gql(ADJUST, {"i": adjustment(businessDate=day)}, user=operator)
    assert_bad_user_input(response)
    assert "2000-01-01 to 2100-12-31" in response["errors"][0]["message"]
    assert not ContributionEntry.objects.exists()


def test_a_target_ending_in_9999_is_refused_and_not_stored(gql, operator):
    response = gql(TARGET, {"i": target(endDate="9999-12-31")}, user=operator)
    assert_bad_user_input(response)
    assert not Target.objects.filter(code="T-2026").exists()


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00", "9999-12-31T23:59:59+00:00"])
def test_a_datetime_filter_outside_the_range_is_bad_user_input(gql, operator, moment):
    assert_bad_user_input(gql(ORDERS, {"f": {"placedFrom": moment}}, user=operator))


def test_a_datetime_literal_in_year_one_is_bad_user_input(gql, operator):
    response = gql(
        '{ orders(filter: {placedFrom: "0001-01-01T00:00:00"}) { totalCount } }', user=operator
    )
    assert_bad_user_input(response)


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "tab\tis fine but bell\x07 is not"])
def test_control_characters_in_search_suggestions_are_bad_user_input(gql, text):
    query = "query($q: String!) { searchSuggestions(query: $q) { text } }"
    assert_bad_user_input(gql(query, {"q": text}))


def test_a_nul_byte_in_any_mutation_string_is_refused_and_nothing_booked(gql, operator):
    response = gql(ADJUST, {"i": adjustment(reason="更正\x00")}, user=operator)
    assert_bad_user_input(response)
    assert "Control characters" in response["errors"][0]["message"]
    assert not ContributionEntry.objects.exists()


def test_tabs_and_newlines_are_kept_in_multi_line_text(gql, operator):
    payload = gql(ADJUST, {"i": adjustment(reason="第一行\n\t第二行")}, user=operator)["data"][
        "contributionAdjust"
    ]
    assert payload["errors"] == []
    assert ContributionEntry.objects.get().reason == "第一行\n\t第二行"


def test_a_60000_character_order_search_is_bad_user_input(gql, operator):
    response = gql(ORDERS, {"f": {"search": "x" * 60_000}}, user=operator)
    assert_bad_user_input(response)
    assert "longer than 100 characters" in response["errors"][0]["message"]


def test_a_long_supplier_search_is_bad_user_input(gql, operator):
    query = "query($s: String) { suppliers(filter: {search: $s}) { totalCount } }"
    assert_bad_user_input(gql(query, {"s": "合" * 101}, user=operator))
