"""Property: for any sequence of orders, acceptances, payments, refunds and imports, the ledger
equals the qualifying net values, in total and per dimension, and its signed tree verifies."""

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import ledger
from procurement.models import ContributionEntry, Order
from procurement.reports import selectors as reports
from procurement.services import contributions, payments
from procurement.transparency import store
from tests.factories import UserFactory
from tests.factories.catalog import credit_code
from tests.procurement import flows

SIGNING_KEY = "".join(["A"] * 43) + "="  # 32 zero bytes, base64: a test key
AGENCY_TYPES = ["SCHOOL", "HOSPITAL", "SUPERMARKET", "ECOMMERCE"]

order_plans = st.lists(
    st.fixed_dictionaries(
        {
            "agency_type": st.sampled_from(AGENCY_TYPES),
            "quantity": st.integers(min_value=1, max_value=20),
            "price": st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
            "reject": st.integers(min_value=0, max_value=20),
            "stop_at": st.sampled_from(["placed", "shipped", "accepted", "paid"]),
            "refunds": st.lists(st.integers(min_value=1, max_value=60), max_size=3),
        }
    ),
    min_size=1,
    max_size=5,
)
imports = st.lists(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2), max_size=3
)


def run_plan(plan: dict, operator) -> None:
    user = flows.buyer(type=plan["agency_type"])
    variant = flows.stocked_variant(stock=100, price=str(plan["price"]))
    (order,) = flows.place(user, (variant, plan["quantity"]))
    if plan["stop_at"] == "placed":
        return
    flows.to_shipped(order)
    if plan["stop_at"] == "shipped":
        return
    accepted = max(plan["quantity"] - plan["reject"], 0)
    line = order.lines.get()
    flows.orders.order_accept(
        acting_user=user, order_id=order.pk, lines=[flows.orders.AcceptedLine(line.pk, accepted)]
    )
    order.refresh_from_db()
    if plan["stop_at"] == "accepted" or order.accepted_value == 0:
        return
    flows.pay_by_transfer(order, operator)
    for percent in plan["refunds"]:
        order.refresh_from_db()
        left = order.paid_amount - order.refunded_amount
        amount = (order.paid_amount * percent / 100).quantize(Decimal("0.01"))
        if 0 < amount <= left:
            payments.order_refund(
                acting_user=operator, order_id=order.pk, amount=amount, reason="property test"
            )


def import_rows(amounts: list[Decimal], start: int) -> bytes:
    header = ",".join(contributions.IMPORT_COLUMNS)
    rows = [
        f"P{start + n},{credit_code(start + n)},供应商,泉州一中,SCHOOL,泉州市,2025-06-0{n + 1},{amount},832,枸杞,640521,枸杞"
        for n, amount in enumerate(amounts)
    ]
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plans=order_plans, imported=imports)
def test_ledger_equals_qualifying_net_values(settings, plans, imported):
    settings.LEDGER_SIGNING_KEY = SIGNING_KEY
    operator = UserFactory(role="OPERATOR")
    first_order_id = (Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    first_position = (
        ContributionEntry.objects.order_by("-position").values_list("position", flat=True).first()
        or 0
    )
    for plan in plans:
        run_plan(plan, operator)
    if imported:
        contributions.contribution_import(
            acting_user=operator, filename="p.csv", data=import_rows(imported, first_order_id * 10)
        )

    expected_by_kind: dict[str, Decimal] = defaultdict(Decimal)
    for order in Order.objects.filter(pk__gte=first_order_id):
        if order.status in ("ACCEPTED", "COMPLETED") and order.payment_status != "UNPAID":
            kind = (
                "HELPED_SALES" if order.agency_type in ("SUPERMARKET", "ECOMMERCE") else "PURCHASE"
            )
            expected_by_kind[kind] += order.accepted_value - order.refunded_amount
    expected_by_kind["PURCHASE"] += sum(imported, Decimal(0))

    new_entries = ContributionEntry.objects.filter(position__gt=first_position)
    booked_by_kind: dict[str, Decimal] = defaultdict(Decimal)
    for kind, amount in new_entries.values_list("kind", "amount"):
        booked_by_kind[kind] += amount
    assert {k: v for k, v in booked_by_kind.items() if v} == {
        k: v for k, v in expected_by_kind.items() if v
    }

    # Per dimension, the rollups agree with the entries (whole ledger, all examples so far).
    summary = reports.contribution_summary(acting_user=operator, filters=None, group_by=["KIND"])
    by_entries = reports._from_entries(reports.LedgerFilter(), ["KIND"])
    assert [(r.keys, r.total) for r in summary.rows] == [(r.keys, r.total) for r in by_entries.rows]
    checkpoint = store.checkpoint()
    assert checkpoint.tree_size == ContributionEntry.objects.count()
    assert ledger.verify().ok
    assert not ledger.reconcile()[2]
