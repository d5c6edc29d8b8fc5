"""Property: whatever text or number a client sends as an amount, a date or a string, the answer
is a result or a refusal with its code — never INTERNAL_SERVER_ERROR — and only a valid value is
stored."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement.models import Target
from tests.shop.core.test_validation import PRODUCTS, TARGET, target

pytestmark = pytest.mark.smoke

REFUSALS = {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

decimal_texts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,6})?", fullmatch=True),
    st.text(max_size=40),
)
date_texts = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.text(max_size=20),
)
texts = st.text(max_size=300)


def top_codes(response: dict) -> set[str]:
    return {e["extensions"]["code"] for e in response.get("errors", [])}


@PROPERTY
@given(amount=decimal_texts, start=date_texts, name=texts)
def test_any_target_input_is_stored_valid_or_refused(gql, operator, amount, start, name):
    before = Target.objects.count()
    data = target(code=f"T-{Target.objects.count()}", amount=amount, startDate=start, name=name)
    data["endDate"] = "2100-12-31"
    response = gql(TARGET, {"i": data}, user=operator)
    assert top_codes(response) <= REFUSALS, response
    created = Target.objects.count() - before
    if created:
        stored = Target.objects.latest("pk")
        assert Decimal("0") < stored.amount < Decimal("1E13")
        assert date(2000, 1, 1) <= stored.start_date
        assert "\x00" not in stored.name
    else:
        assert response.get("errors") or response["data"]["targetCreate"]["errors"]


@PROPERTY
@given(low=decimal_texts, high=decimal_texts)
def test_any_price_filter_is_answered_or_refused(gql, low, high):
    response = gql(PRODUCTS, {"f": {"price": {"gte": low, "lte": high}}})
    assert top_codes(response) <= REFUSALS, response
