"""The order lifecycle through the GraphQL API."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from catalog.models import ProductVariant, SupplierStatus
from catalog.services.suppliers import supplier_exit, supplier_suspend
from procurement.models import Order, OrderEvent, OrderStatus
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.procurement import flows
from tests.procurement.flows import buyer, place, staff_of, stocked_variant

S = OrderStatus


def oid(order) -> str:
    return to_global_id("Order", order.pk)


ACTIONS = {
    "confirm": (
        "mutation($id: ID!) { orderConfirm(id: $id) { order { status } errors { code } } }",
        "supplier",
        {},
    ),
    "reject": (
        'mutation($id: ID!) { orderReject(id: $id, reason: "缺货") { order { status } errors { code } } }',
        "supplier",
        {},
    ),
    "ship": (
        'mutation($id: ID!) { orderShip(id: $id, trackingNumber: "SF1") { order { status } errors { code } } }',
        "supplier",
        {},
    ),
    "accept": (
        "mutation($id: ID!) { orderAccept(id: $id) { order { status } errors { code } } }",
        "agency",
        {},
    ),
    "cancel": (
        "mutation($id: ID!) { orderCancel(id: $id) { order { status } errors { code } } }",
        "agency",
        {},
    ),
    "complete": (
        "mutation($id: ID!) { orderComplete(id: $id) { order { status } errors { code } } }",
        "agency",
        {},
    ),
}
ALLOWED = {
    (S.PLACED, "confirm"): S.CONFIRMED,
    (S.PLACED, "reject"): S.CANCELLED,
    (S.PLACED, "cancel"): S.CANCELLED,
    (S.CONFIRMED, "ship"): S.SHIPPED,
    (S.SHIPPED, "accept"): S.ACCEPTED,
    (S.ACCEPTED, "complete"): S.COMPLETED,
}


def order_in(status: str, operator) -> tuple[Order, object]:
    user = buyer()
    (order,) = place(user, (stocked_variant(stock=50), 5))
    if status == S.CANCELLED:
        flows.orders.order_cancel(acting_user=user, order_id=order.pk)
    if status in (S.CONFIRMED, S.SHIPPED, S.ACCEPTED, S.COMPLETED):
        flows.orders.order_confirm(acting_user=staff_of(order.supplier), order_id=order.pk)
    if status in (S.SHIPPED, S.ACCEPTED, S.COMPLETED):
        flows.orders.order_ship(
            acting_user=staff_of(order.supplier), order_id=order.pk, tracking_number="SF"
        )
    if status in (S.ACCEPTED, S.COMPLETED):
        flows.orders.order_accept(acting_user=user, order_id=order.pk, lines=[])
        flows.pay_by_transfer(order, operator)
        flows.invoice(order)
    if status == S.COMPLETED:
        flows.orders.order_complete(acting_user=user, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == status
    return order, user


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_order_transition_table(gql, operator, status, action):
    order, agency_user = order_in(status, operator)
    query, actor, _ = ACTIONS[action]
    user = agency_user if actor == "agency" else staff_of(order.supplier)
    events_before = OrderEvent.objects.filter(order=order).count()
    payload = next(iter(gql(query, {"id": oid(order)}, user=user)["data"].values()))
    order.refresh_from_db()
    expected = ALLOWED.get((status, action))
    if expected:
        assert payload == {"order": {"status": expected}, "errors": []}
    else:
        assert payload["errors"] == [{"code": "INVALID_TRANSITION"}]
        assert order.status == status
        assert OrderEvent.objects.filter(order=order).count() == events_before


@pytest.mark.smoke
def test_partial_acceptance_returns_rejected_units_to_stock(gql):
    user = buyer()
    goji = stocked_variant(stock=100, price="10.00")
    wine = stocked_variant(stock=100, price="3.50", supplier=goji.product.supplier)
    (order,) = place(user, (goji, 10), (wine, 4))
    flows.to_shipped(order)
    goji_line, wine_line = order.lines.order_by("id")
    mutation = """mutation($id: ID!, $lines: [OrderAcceptLineInput!]) { orderAccept(id: $id, lines: $lines) {
        order { status acceptedValue { amount } lines { quantity acceptedQuantity } } errors { field code } } }"""
    lines = [{"lineId": to_global_id("OrderLine", goji_line.pk), "acceptedQuantity": 7}]
    payload = gql(mutation, {"id": oid(order), "lines": lines}, user=user)["data"]["orderAccept"]
    assert payload["errors"] == []
    assert payload["order"]["acceptedValue"] == {"amount": "84.00"}  # 7 × 10 + 4 × 3.50
    assert payload["order"]["lines"] == [
        {"quantity": 10, "acceptedQuantity": 7},
        {"quantity": 4, "acceptedQuantity": 4},
    ]
    assert ProductVariant.objects.get(pk=goji.pk).stock == 93
    assert ProductVariant.objects.get(pk=wine.pk).stock == 96


@pytest.mark.parametrize("accepted", [-1, 11])
def test_acceptance_quantity_out_of_range_is_refused(gql, accepted):
    user = buyer()
    variant = stocked_variant(stock=100)
    (order,) = place(user, (variant, 10))
    flows.to_shipped(order)
    line = order.lines.get()
    mutation = """mutation($id: ID!, $lines: [OrderAcceptLineInput!]) { orderAccept(id: $id, lines: $lines) {
        errors { field code } } }"""
    lines = [{"lineId": to_global_id("OrderLine", line.pk), "acceptedQuantity": accepted}]
    payload = gql(mutation, {"id": oid(order), "lines": lines}, user=user)["data"]["orderAccept"]
    assert payload["errors"] == [{"field": "lines.0.acceptedQuantity", "code": "INVALID_QUANTITY"}]
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert ProductVariant.objects.get(pk=variant.pk).stock == 90


def test_cancel_and_reject_release_stock(gql):
    user = buyer()
    variant = stocked_variant(stock=20)
    first, second = place(user, (variant, 5))[0], place(user, (variant, 6))[0]
    assert ProductVariant.objects.get(pk=variant.pk).stock == 9
    gql(ACTIONS["cancel"][0], {"id": oid(first)}, user=user)
    gql(ACTIONS["reject"][0], {"id": oid(second)}, user=staff_of(second.supplier))
    assert ProductVariant.objects.get(pk=variant.pk).stock == 20


def test_completing_needs_an_invoice_and_a_payment(gql, operator):
    user = buyer()
    (order,) = place(user, (stocked_variant(stock=10, price="50.00"), 2))
    flows.to_accepted(order, user)
    complete = ACTIONS["complete"][0]
    assert gql(complete, {"id": oid(order)}, user=user)["data"]["orderComplete"]["errors"] == [
        {"code": "INVOICE_REQUIRED"}
    ]
    flows.invoice(order)
    assert gql(complete, {"id": oid(order)}, user=user)["data"]["orderComplete"]["errors"] == [
        {"code": "NOT_PAID"}
    ]
    flows.pay_by_transfer(order, operator)
    assert gql(complete, {"id": oid(order)}, user=user)["data"]["orderComplete"]["order"] == {
        "status": "COMPLETED"
    }


def test_invoice_must_name_the_supplier_and_the_accepted_value_and_be_unique(gql):
    user = buyer()
    (order,) = place(user, (stocked_variant(stock=10, price="50.00"), 2))
    flows.to_accepted(order, user)
    mutation = """mutation($id: ID!, $n: String!, $c: String!, $a: Decimal!) {
        orderInvoiceAttach(id: $id, number: $n, sellerCreditCode: $c, amount: $a) { errors { field code } } }"""
    staff = staff_of(order.supplier)
    code = order.supplier.credit_code
    wrong_amount = gql(
        mutation, {"id": oid(order), "n": "FP1", "c": code, "a": "99.00"}, user=staff
    )
    assert wrong_amount["data"]["orderInvoiceAttach"]["errors"] == [
        {"field": "amount", "code": "INVOICE_MISMATCH"}
    ]
    other = flows.new_supplier().credit_code
    wrong_seller = gql(
        mutation, {"id": oid(order), "n": "FP1", "c": other, "a": "100.00"}, user=staff
    )
    assert wrong_seller["data"]["orderInvoiceAttach"]["errors"] == [
        {"field": "sellerCreditCode", "code": "INVOICE_MISMATCH"}
    ]
    ok = gql(mutation, {"id": oid(order), "n": "FP1", "c": code, "a": "100.00"}, user=staff)
    assert ok["data"]["orderInvoiceAttach"]["errors"] == []
    (second,) = place(user, (stocked_variant(stock=10, price="50.00", supplier=order.supplier), 2))
    flows.to_accepted(second, user)
    taken = gql(mutation, {"id": oid(second), "n": "FP1", "c": code, "a": "100.00"}, user=staff)
    assert taken["data"]["orderInvoiceAttach"]["errors"] == [
        {"field": "number", "code": "INVOICE_TAKEN"}
    ]


@pytest.mark.parametrize("withdraw", [supplier_suspend, supplier_exit])
def test_supplier_withdrawal_cancels_unconfirmed_orders_and_keeps_confirmed_ones(
    operator, withdraw
):
    user = buyer()
    variant = stocked_variant(stock=30)
    placed, confirmed = place(user, (variant, 5))[0], place(user, (variant, 5))[0]
    flows.orders.order_confirm(acting_user=staff_of(confirmed.supplier), order_id=confirmed.pk)
    withdraw(acting_user=operator, supplier_id=variant.product.supplier_id, reason="抽检不合格")
    placed.refresh_from_db()
    confirmed.refresh_from_db()
    assert (placed.status, confirmed.status) == (S.CANCELLED, S.CONFIRMED)
    assert placed.cancel_reason == "supplier withdrawn: 抽检不合格"
    assert ProductVariant.objects.get(pk=variant.pk).stock == 25
    # The confirmed order may still be fulfilled.
    flows.orders.order_ship(
        acting_user=staff_of(confirmed.supplier), order_id=confirmed.pk, tracking_number="SF9"
    )
    confirmed.refresh_from_db()
    assert confirmed.status == S.SHIPPED
    assert confirmed.supplier.status in (SupplierStatus.SUSPENDED, SupplierStatus.EXITED)


def test_late_orders_are_visible_to_operators(gql, operator):
    user = buyer()
    (order,) = place(user, (stocked_variant(), 1), ship_within_days=7)
    place(user, (stocked_variant(), 1), ship_within_days=30)
    query = """query($late: Boolean) { orders(filter: {late: $late}) { totalCount edges { node { number isLate } } } }"""
    assert gql(query, {"late": True}, user=operator)["data"]["orders"]["totalCount"] == 0
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        late = gql(query, {"late": True}, user=operator)["data"]["orders"]
        assert late["edges"] == [{"node": {"number": order.number, "isLate": True}}]


def test_orders_are_scoped_by_role(gql, operator):
    user, other = buyer(), buyer()
    (mine,) = place(user, (stocked_variant(), 1))
    (theirs,) = place(other, (stocked_variant(), 1))
    query = "{ orders { totalCount edges { node { number } } } }"
    assert gql(query, user=user)["data"]["orders"]["edges"] == [{"node": {"number": mine.number}}]
    assert gql(query, user=staff_of(theirs.supplier))["data"]["orders"]["edges"] == [
        {"node": {"number": theirs.number}}
    ]
    assert gql(query, user=operator)["data"]["orders"]["totalCount"] == 2
    assert gql(query, user=UserFactory(role=Role.AUDITOR))["data"]["orders"]["totalCount"] == 2
    single = "query($id: ID!) { order(id: $id) { number } }"
    assert gql(single, {"id": oid(theirs)}, user=user)["data"]["order"] is None


def test_order_listing_query_count_is_flat(gql, operator):
    user = buyer()
    for _ in range(30):
        place(user, (stocked_variant(), 1))
    query = "query($n: Int) { orders(first: $n) { edges { node { number supplier { name } lines { sku } } } } }"
    counts = []
    for size in (5, 30):
        with CaptureQueriesContext(connection) as queries:
            assert len(gql(query, {"n": size}, user=operator)["data"]["orders"]["edges"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
