"""Supplier statements: a month in Asia/Shanghai of orders accepted, paid, refunded and
outstanding, equal to the ledger for the supplier and month; CSV/XLSX downloads; who may read."""

import io
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum
from graphql_relay import to_global_id
from openpyxl import load_workbook

from procurement.models import ContributionEntry
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.conftest import top_level_codes
from tests.procurement import flows
from tests.procurement.flows import buyer, place, staff_of, stocked_variant

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SHANGHAI)


def accepted_order(user, variant, quantity: int, when: datetime):
    with time_machine.travel(when, tick=False):
        (order,) = place(user, (variant, quantity))
        flows.to_accepted(order, user)
    order.refresh_from_db()
    return order


def pay(order, operator, when: datetime):
    with time_machine.travel(when, tick=False):
        flows.pay_by_transfer(order, operator)


def refund(order, operator, amount: str, when: datetime):
    with time_machine.travel(when, tick=False):
        flows.payments.order_refund(
            acting_user=operator, order_id=order.pk, amount=amount, reason="破损"
        )


@pytest.fixture
def month_mix(db, operator):
    """One supplier's orders around the March/April boundary in Shanghai, and another
    supplier's order that must not show."""
    user = buyer()
    goji = stocked_variant(stock=1000, price="100.00")
    supplier = goji.product.supplier
    # Accepted 31 March 23:30, paid 1 April 00:30 in Shanghai (still 31 March in UTC): counted
    # in April.
    late_night = accepted_order(user, goji, 3, at("2026-03-31", 23, 30))
    pay(late_night, operator, at("2026-04-01", 0, 30))
    # Accepted and paid in March, part refunded just after midnight on 1 April.
    march = accepted_order(user, goji, 5, at("2026-03-10"))
    pay(march, operator, at("2026-03-20"))
    refund(march, operator, "120.00", at("2026-04-01", 0, 10))
    # Accepted in March, never paid: outstanding at the end of March and of April.
    unpaid = accepted_order(user, goji, 2, at("2026-03-15"))
    # Accepted in February, paid in March.
    february = accepted_order(user, goji, 1, at("2026-02-27"))
    pay(february, operator, at("2026-03-02"))
    other = accepted_order(user, stocked_variant(price="999.00"), 1, at("2026-03-11"))
    pay(other, operator, at("2026-03-12"))
    return supplier, {"late_night": late_night, "march": march, "unpaid": unpaid}


STATEMENT = """query($s: ID!, $m: String!) { supplierStatement(supplierId: $s, month: $m) {
  month acceptedCount accepted { amount } paidCount paid { amount } refunded { amount }
  outstanding { amount } counted { amount } contribution { amount } ledgerAgrees csvUrl } }"""


def statement(gql, supplier, month, user):
    response = gql(STATEMENT, {"s": to_global_id("Supplier", supplier.pk), "m": month}, user=user)
    return response["data"]["supplierStatement"] if "errors" not in response else response


def ledger_total(supplier, start: str, end: str) -> Decimal:
    total = ContributionEntry.objects.filter(
        supplier=supplier, business_date__gte=start, business_date__lt=end
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def amounts(figures: dict) -> dict:
    return {k: v["amount"] if isinstance(v, dict) else v for k, v in figures.items()}


def test_march_statement(gql, month_mix, operator):
    supplier, _orders = month_mix
    march = amounts(statement(gql, supplier, "2026-03", operator))
    assert march == {
        "month": "2026-03",
        "acceptedCount": 3,  # the late-night, March and unpaid orders
        "accepted": "1000.00",
        "paidCount": 2,  # the March and February orders
        "paid": "600.00",
        "refunded": "0.00",
        "outstanding": "500.00",  # unpaid 200 + the late-night 300, paid only in April
        "counted": "600.00",
        "contribution": "600.00",
        "ledgerAgrees": True,
        "csvUrl": "/exports/supplier-statement.csv?"
        + urlencode({"supplier": to_global_id("Supplier", supplier.pk), "month": "2026-03"}),
    }
    assert Decimal(march["contribution"]) == ledger_total(supplier, "2026-03-01", "2026-04-01")


def test_april_statement_counts_the_late_night_payment_and_the_refund(gql, month_mix, operator):
    supplier, _orders = month_mix
    april = amounts(statement(gql, supplier, "2026-04", operator))
    assert (april["acceptedCount"], april["paid"], april["refunded"]) == (0, "300.00", "120.00")
    assert (april["outstanding"], april["counted"], april["contribution"]) == (
        "200.00",
        "300.00",
        "180.00",
    )
    assert april["ledgerAgrees"] is True
    assert Decimal(april["contribution"]) == ledger_total(supplier, "2026-04-01", "2026-05-01")


def test_a_month_without_activity_is_zero(gql, month_mix, operator):
    supplier, _orders = month_mix
    january = amounts(statement(gql, supplier, "2026-01", operator))
    assert (january["accepted"], january["contribution"], january["outstanding"]) == (
        "0.00",
        "0.00",
        "0.00",
    )


@pytest.mark.parametrize("month", ["2026-13", "2026", "March", "0000-01", ""])
def test_a_bad_month_is_bad_user_input(gql, month_mix, operator, month):
    supplier, _orders = month_mix
    assert top_level_codes(statement(gql, supplier, month, operator)) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("role", [None, *Role])
def test_who_may_read_a_statement(gql, month_mix, operator, role):
    supplier, orders = month_mix
    users = flows.one_user_per_role(
        operator=operator, agency_user=buyer(), supplier=orders["march"].supplier
    )
    result = statement(gql, supplier, "2026-03", users[role] if role else None)
    if role in (Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER):
        assert result["contribution"] == {"amount": "600.00"}
    else:
        assert top_level_codes(result) == [
            "UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"
        ]


def test_another_suppliers_statement_is_like_an_unknown_one(gql, month_mix):
    supplier, _orders = month_mix
    outsider = staff_of(flows.new_supplier())
    assert statement(gql, supplier, "2026-03", outsider) is None


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(user)}"}


def test_the_csv_has_one_row_per_order_then_the_totals(client, month_mix):
    supplier, orders = month_mix
    url = f"/exports/supplier-statement.csv?supplier={to_global_id('Supplier', supplier.pk)}&month=2026-04"
    response = client.get(url, **bearer(staff_of(supplier)))
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + 3 + 2  # header, late-night, March (refund), unpaid; totals; ledger
    late_night = next(line for line in lines if orders["late_night"].number in line)
    assert late_night.endswith(",2026-03-31,0.00,2026-04-01,300.00,0.00,0.00,300.00")
    assert lines[-2].endswith(",300.00,120.00,200.00,300.00")
    assert lines[-1].endswith(",180.00")


def test_the_xlsx_keeps_money_as_numbers_and_neutralises_formulas(client, month_mix):
    supplier, orders = month_mix
    from procurement.models import Order

    Order.objects.filter(pk=orders["unpaid"].pk).update(agency_name='=HYPERLINK("http://x","y")')
    url = f"/exports/supplier-statement.xlsx?supplier={to_global_id('Supplier', supplier.pk)}&month=2026-03"
    response = client.get(url, **bearer(staff_of(supplier)))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["对账单"]
    rows = list(sheet.iter_rows(values_only=True))
    unpaid = next(row for row in rows if row[0] == orders["unpaid"].number)
    assert unpaid[1] == '\'=HYPERLINK("http://x","y")'
    assert unpaid[7] == 200  # outstanding, a number cell
    assert rows[-1][8] == 600


def test_downloads_answer_like_the_query(client, month_mix):
    supplier, _orders = month_mix
    path = "/exports/supplier-statement.csv?supplier={}&month={}"
    gid = to_global_id("Supplier", supplier.pk)
    assert client.get(path.format(gid, "2026-03")).status_code == 401
    agency = bearer(buyer())
    assert client.get(path.format(gid, "2026-03"), **agency).status_code == 403
    other = bearer(staff_of(flows.new_supplier()))
    assert client.get(path.format(gid, "2026-03"), **other).status_code == 404
    own = bearer(staff_of(supplier))
    assert client.get(path.format(gid, "2026-3x"), **own).status_code == 400


def test_a_statement_runs_a_fixed_number_of_queries(gql, month_mix, operator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    supplier, _orders = month_mix
    with CaptureQueriesContext(connection) as queries:
        statement(gql, supplier, "2026-03", operator)
    fewer = len(queries)
    user = buyer()
    for day in ("2026-03-03", "2026-03-04", "2026-03-05"):
        accepted_order(user, stocked_variant(supplier=supplier), 1, at(day))
    with CaptureQueriesContext(connection) as queries:
        assert statement(gql, supplier, "2026-03", operator)["acceptedCount"] == 6
    assert len(queries) == fewer
