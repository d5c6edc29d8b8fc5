"""Out-of-range procurement and ledger input: amounts beyond their column or with a third
decimal, years out of range, over-long text and search strings. Each is refused with its code
and nothing changes: no ledger entry, no target, no refund, no plan, no order, no stock."""

import pytest
from graphql_relay import to_global_id

from procurement.models import (
    ContributionEntry,
    LedgerHead,
    Order,
    Refund,
    ReservedSharePlan,
    Target,
)
from shop.accounts.tokens import create_access_token
from tests.conftest import top_level_codes
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant
from tests.procurement.test_checkout import nothing_placed, stock_of, vid
from tests.procurement.test_ledger import import_csv, row, upload
from tests.shop.core.test_validation import ADJUST, TARGET, adjustment, target

HUGE = "12345678901234567890.12"
REFUND = """mutation($id: ID!, $amount: Decimal!) { orderRefund(orderId: $id, amount: $amount,
    reason: "部分变质") { errors { field code } } }"""
PLAN = """mutation($a: ID!, $total: Decimal) { reservedSharePlanSet(agencyId: $a, year: 2026,
    canteenTotal: $total, ratio: "0.10") { errors { field code } } }"""
VERIFY = "{ ledgerVerify { ok entriesChecked problem } }"


def ledger_unchanged() -> bool:
    return (
        not ContributionEntry.objects.exists()
        and not LedgerHead.objects.filter(last_position__gt=0).exists()
    )


@pytest.mark.parametrize("amount", [HUGE, "1E+30", "-1E+30", "0.001", "0"])
def test_an_out_of_range_adjustment_is_invalid_amount_and_books_nothing(gql, operator, amount):
    payload = gql(ADJUST, {"i": adjustment(amount=amount)}, user=operator)["data"][
        "contributionAdjust"
    ]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("amount", "INVALID_AMOUNT")]
    assert ledger_unchanged()


@pytest.mark.parametrize("amount", [HUGE, "1E+30", "0.001", "-5"])
def test_an_out_of_range_target_amount_is_invalid_amount_and_stores_nothing(gql, operator, amount):
    payload = gql(TARGET, {"i": target(amount=amount)}, user=operator)["data"]["targetCreate"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("amount", "INVALID_AMOUNT")]
    assert not Target.objects.filter(code="T-2026").exists()


def test_an_adjustment_category_longer_than_its_column_is_invalid(gql, operator):
    max_length = ContributionEntry._meta.get_field("category").max_length
    data = adjustment(category="类" * (max_length + 1))
    payload = gql(ADJUST, {"i": data}, user=operator)["data"]["contributionAdjust"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("category", "INVALID")]
    assert ledger_unchanged()


@pytest.mark.parametrize("amount", ["1E+30", HUGE])
def test_a_refund_of_1e30_is_invalid_amount_and_changes_nothing(gql, operator, amount):
    user = buyer()
    (order,) = place(user, (stocked_variant(price="100.00"), 2))
    flows.to_accepted(order, user)
    flows.pay_by_transfer(order, operator)
    entries = ContributionEntry.objects.count()
    payload = gql(REFUND, {"id": to_global_id("Order", order.pk), "amount": amount}, user=operator)
    assert payload["data"]["orderRefund"]["errors"] == [
        {"field": "amount", "code": "INVALID_AMOUNT"}
    ]
    assert not Refund.objects.exists()
    assert Order.objects.get().refunded_amount == 0
    assert ContributionEntry.objects.count() == entries


@pytest.mark.parametrize("total", ["1E+30", HUGE, "0.001"])
def test_a_canteen_total_out_of_range_is_invalid_amount_with_no_plan(gql, total):
    user = buyer()
    agency = to_global_id("Agency", user.agency.pk)
    payload = gql(PLAN, {"a": agency, "total": total}, user=user)["data"]["reservedSharePlanSet"]
    assert payload["errors"] == [{"field": "canteenTotal", "code": "INVALID_AMOUNT"}]
    assert not ReservedSharePlan.objects.exists()


@pytest.mark.parametrize("year", [-1, 1999, 2101])
def test_a_reserved_share_year_out_of_range_is_bad_user_input(gql, year):
    user = buyer()
    query = "query($y: Int) { me { agency { reservedShare(year: $y) { year } } } }"
    response = gql(query, {"y": year}, user=user)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert response["errors"][0]["extensions"]["requestId"]


def test_a_shipping_address_longer_than_its_column_places_nothing(gql):
    user = buyer()
    variant = stocked_variant(stock=10)
    mutation = """mutation($lines: [CheckoutLineInput!]!, $a: String!) {
        checkoutCreate(lines: $lines, idempotencyKey: "checkout-key-0001",
        shippingAddress: {recipient: "王老师", phone: "0591", address: $a}) { errors { field code } } }"""
    address = "路" * (Order._meta.get_field("address").max_length + 1)
    payload = gql(
        mutation, {"lines": [{"variantId": vid(variant), "quantity": 2}], "a": address}, user=user
    )
    assert payload["data"]["checkoutCreate"]["errors"] == [{"field": "address", "code": "INVALID"}]
    assert nothing_placed()
    assert stock_of(variant) == [10]


@pytest.mark.smoke
def test_an_amount_sqlite_cannot_hold_is_refused_and_the_ledger_stays_verifiable(
    gql, operator, client
):
    """On SQLite a decimal is kept as a double: 12345678901234567890.12 once stored made
    ledgerVerify, targets, the dashboard and the XLSX export fail and the CSV stop early. The
    largest amounts accepted still read back exactly, so the hash chain verifies."""
    refused = gql(ADJUST, {"i": adjustment(amount=HUGE)}, user=operator)["data"]
    assert refused["contributionAdjust"]["errors"][0]["code"] == "INVALID_AMOUNT"
    assert ledger_unchanged()
    for amount in ("9999999999999.99", "-9999999999999.99", "1234567890123.45"):
        booked = gql(ADJUST, {"i": adjustment(amount=amount)}, user=operator)["data"]
        assert booked["contributionAdjust"]["errors"] == [], amount
    assert gql(VERIFY, user=operator)["data"]["ledgerVerify"] == {
        "ok": True,
        "entriesChecked": 3,
        "problem": None,
    }
    assert sorted(str(a) for a in ContributionEntry.objects.values_list("amount", flat=True)) == [
        "-9999999999999.99",
        "1234567890123.45",
        "9999999999999.99",
    ]
    response = client.get(
        "/exports/contributions.csv", HTTP_AUTHORIZATION=f"Bearer {create_access_token(operator)}"
    )
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + 3
    xlsx = client.get(
        "/exports/contributions.xlsx", HTTP_AUTHORIZATION=f"Bearer {create_access_token(operator)}"
    )
    assert xlsx.status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"date": "0001-01-01"}, "purchase_date"),
        ({"amount": "1E+30"}, "amount"),
        ({"invoice": "F" * 300}, "invoice_number"),
    ],
)
def test_an_import_row_out_of_range_refuses_the_file(client, operator, changes, message):
    data = import_csv(row(invoice="INV-OK"), row(**{"invoice": "INV-2", **changes}))
    errors = upload(client, operator, data)["data"]["contributionImport"]["errors"]
    assert [(e["field"], e["message"][:6]) for e in errors] == [("file", "Row 3:")]
    assert message in errors[0]["message"]
    assert ledger_unchanged()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_an_export_date_out_of_range_is_a_400(client, operator, day):
    response = client.get(
        f"/exports/contributions.csv?dateFrom={day}",
        HTTP_AUTHORIZATION=f"Bearer {create_access_token(operator)}",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BAD_USER_INPUT"
