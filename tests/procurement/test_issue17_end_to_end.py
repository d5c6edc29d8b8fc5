"""End to end through the API: a buyer drafts a purchase the agency must approve, an approver
approves it against the budget, the supplier ships it in two parcels, each is accepted, it is
paid on day 31, overdue until then, paid late; its supplier's statements equal the ledger."""

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from graphql_relay import to_global_id

from catalog.models import ProductVariant
from shop.accounts.models import Role
from tests.factories import AgencyFactory, UserFactory
from tests.procurement.flows import staff_of, stocked_variant
from tests.procurement.test_approvals import approver_of, member

SHANGHAI = ZoneInfo("Asia/Shanghai")


def on(day: str, hour: int = 10):
    return time_machine.travel(
        datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI), tick=False
    )


def ok(response: dict, name: str) -> dict:
    assert "errors" not in response, response
    payload = response["data"][name]
    assert payload["errors"] == [], payload
    return payload


BASKET = """lines: [{variantId: $v, quantity: 10}], idempotencyKey: "e2e-issue-17",
  shippingAddress: {recipient: "王老师", phone: "0591-1", address: "福州市鼓楼区"},
  shipWithinDays: 15"""
CHECKOUT = (
    f"""mutation($v: ID!) {{ checkoutCreate({BASKET}) {{ orders {{ id }} errors {{ code }} }} }}"""
)
DRAFT = f"""mutation($v: ID!) {{ purchaseRequestCreate({BASKET}, budgetLine: "食堂") {{
  purchaseRequest {{ id status total {{ amount }} }} errors {{ code }} }} }}"""
APPROVE = """mutation($id: ID!) { purchaseRequestApprove(id: $id) {
  purchaseRequest { status } orders { id lines { id } } errors { code } } }"""
BUDGETS = """query($a: ID!) { agencyBudgets(agencyId: $a) { line committed { amount }
  pending { amount } available { amount } } }"""
SETUP = """mutation($a: ID!) {
  settings: agencySettingsUpdate(agencyId: $a, approvalThreshold: "200.00") { errors { code } }
  whole: agencyBudgetSet(agencyId: $a, year: 2026, amount: "50000") { errors { code } }
  canteen: agencyBudgetSet(agencyId: $a, year: 2026, line: "食堂", amount: "1000") {
    errors { code } } }"""
SHIP = """mutation($o: ID!, $l: ID!, $q: Int!, $t: String!) { shipmentCreate(orderId: $o,
  carrier: "顺丰速运", trackingNumber: $t, lines: [{lineId: $l, quantity: $q}]) {
  shipment { id isLate } order { status } errors { code } } }"""
ACCEPT = """mutation($id: ID!) { shipmentAccept(id: $id) {
  order { status acceptedValue { amount } paymentDueDate } errors { code } } }"""
OVERDUE = "{ overduePayments { edges { node { order { id } daysOverdue amountOutstanding { amount } } } } }"
PAY = """mutation($o: ID!) { paymentCreate(orderId: $o, method: BANK_TRANSFER) { errors { code } } }"""
RECORD = """mutation($o: ID!) { paymentRecordTransfer(orderId: $o, reference: "BOC-20260425-1") {
  order { paymentStatus paidOnTime paidAt } errors { code } } }"""
REFUND = """mutation($o: ID!) { orderRefund(orderId: $o, amount: "60.00", reason: "一箱破损") {
  errors { code } } }"""
STATEMENT = """query($s: ID!, $m: String!) { supplierStatement(supplierId: $s, month: $m) {
  accepted { amount } paid { amount } refunded { amount } outstanding { amount }
  counted { amount } contribution { amount } ledgerAgrees } }"""
LEDGER = """query($s: ID!, $from: Date!, $to: Date!) { contributionSummary(filter: {suppliers: [$s],
  dateFrom: $from, dateTo: $to}) { total { amount } } }"""


def budget_figures(gql, agency_id, user) -> dict:
    figures = gql(BUDGETS, {"a": agency_id}, user=user)["data"]["agencyBudgets"]
    return {
        b["line"]: (b["committed"]["amount"], b["pending"]["amount"], b["available"]["amount"])
        for b in figures
    }


def test_draft_to_statement(gql):
    agency = AgencyFactory()
    agency_id = to_global_id("Agency", agency.pk)
    agency_user = member(agency)
    approver = approver_of(agency)
    operator = UserFactory(role=Role.OPERATOR)
    auditor = UserFactory(role=Role.AUDITOR)
    variant = stocked_variant(stock=50, price="36.00")
    variant_id = to_global_id("ProductVariant", variant.pk)
    supplier = variant.product.supplier
    staff = staff_of(supplier)

    with on("2026-03-19"):
        setup = gql(SETUP, {"a": agency_id}, user=approver)
        assert "errors" not in setup, setup
        assert [part["errors"] for part in setup["data"].values()] == [[], [], []]
        refused = gql(CHECKOUT, {"v": variant_id}, user=agency_user)["data"]["checkoutCreate"]
        assert [e["code"] for e in refused["errors"]] == ["APPROVAL_REQUIRED"]
        drafted = ok(gql(DRAFT, {"v": variant_id}, user=agency_user), "purchaseRequestCreate")
        assert drafted["purchaseRequest"]["status"] == "PENDING"
        assert drafted["purchaseRequest"]["total"] == {"amount": "360.00"}
        assert budget_figures(gql, agency_id, approver) == {
            "": ("0.00", "360.00", "50000.00"),
            "食堂": ("0.00", "360.00", "1000.00"),
        }
        assert ProductVariant.objects.get(pk=variant.pk).stock == 50  # reserved nothing

    with on("2026-03-20"):
        approved = ok(
            gql(APPROVE, {"id": drafted["purchaseRequest"]["id"]}, user=approver),
            "purchaseRequestApprove",
        )
        assert approved["purchaseRequest"]["status"] == "APPROVED"
        placed = approved["orders"][0]
        order_id, line_id = placed["id"], placed["lines"][0]["id"]
        assert budget_figures(gql, agency_id, agency_user) == {
            "": ("360.00", "0.00", "49640.00"),
            "食堂": ("360.00", "0.00", "640.00"),
        }
        ok(
            gql(
                "mutation($id: ID!) { orderConfirm(id: $id) { errors { code } } }",
                {"id": order_id},
                user=staff,
            ),
            "orderConfirm",
        )
    with on("2026-03-21"):
        first = ok(
            gql(SHIP, {"o": order_id, "l": line_id, "q": 6, "t": "SF1"}, user=staff),
            "shipmentCreate",
        )
    assert first["order"]["status"] == "CONFIRMED"
    with on("2026-03-23"):
        second = ok(
            gql(SHIP, {"o": order_id, "l": line_id, "q": 4, "t": "SF2"}, user=staff),
            "shipmentCreate",
        )
    assert second["order"]["status"] == "SHIPPED"
    assert (first["shipment"]["isLate"], second["shipment"]["isLate"]) == (False, False)

    with on("2026-03-24"):
        after_first = ok(
            gql(ACCEPT, {"id": first["shipment"]["id"]}, user=agency_user), "shipmentAccept"
        )
    assert after_first["order"]["status"] == "SHIPPED"
    with on("2026-03-25"):
        accepted = ok(
            gql(ACCEPT, {"id": second["shipment"]["id"]}, user=agency_user), "shipmentAccept"
        )
    assert accepted["order"] == {
        "status": "ACCEPTED",
        "acceptedValue": {"amount": "360.00"},
        "paymentDueDate": "2026-04-24",  # day 1 is 26 March
    }

    with on("2026-04-24", 23):
        assert gql(OVERDUE, user=auditor)["data"]["overduePayments"]["edges"] == []
    with on("2026-04-25", 9):  # day 31
        overdue = gql(OVERDUE, user=auditor)["data"]["overduePayments"]["edges"]
        assert [e["node"] for e in overdue] == [
            {"order": {"id": order_id}, "daysOverdue": 1, "amountOutstanding": {"amount": "360.00"}}
        ]
        ok(gql(PAY, {"o": order_id}, user=agency_user), "paymentCreate")
        # Started, not yet arrived: still overdue.
        assert len(gql(OVERDUE, user=operator)["data"]["overduePayments"]["edges"]) == 1
        paid = ok(gql(RECORD, {"o": order_id}, user=operator), "paymentRecordTransfer")
        assert paid["order"]["paymentStatus"] == "PAID"
        assert paid["order"]["paidOnTime"] is False
        assert gql(OVERDUE, user=operator)["data"]["overduePayments"]["edges"] == []
    with on("2026-05-06"):
        ok(gql(REFUND, {"o": order_id}, user=operator), "orderRefund")
        # Accepted in full: the budget line still carries the accepted value.
        assert budget_figures(gql, agency_id, auditor)["食堂"] == ("360.00", "0.00", "640.00")

    supplier_id = to_global_id("Supplier", supplier.pk)
    expected = {
        "2026-03": ("360.00", "0.00", "0.00", "360.00", "0.00", "0.00"),
        "2026-04": ("0.00", "360.00", "0.00", "0.00", "360.00", "360.00"),
        "2026-05": ("0.00", "0.00", "60.00", "0.00", "0.00", "-60.00"),
    }
    for month, figures in expected.items():
        for reader in (auditor, staff):
            statement = gql(STATEMENT, {"s": supplier_id, "m": month}, user=reader)["data"][
                "supplierStatement"
            ]
            assert statement.pop("ledgerAgrees") is True
            assert tuple(v["amount"] for v in statement.values()) == figures
        last_day = {"2026-03": "31", "2026-04": "30", "2026-05": "31"}[month]
        ledger = gql(
            LEDGER,
            {"s": supplier_id, "from": f"{month}-01", "to": f"{month}-{last_day}"},
            user=auditor,
        )["data"]["contributionSummary"]["total"]
        assert ledger == {"amount": figures[-1]}
