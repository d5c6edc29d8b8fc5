"""Orders shipped in parcels: quantities within what is left to ship, acceptance per parcel
adding up to the order's acceptance, `orderAccept` still working, late parcels."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from graphql_relay import to_global_id

from catalog.models import ProductVariant
from procurement.models import OrderStatus, Shipment, ShipmentLine
from tests.procurement import flows
from tests.procurement.flows import buyer, place, staff_of, stocked_variant

CREATE = """mutation($o: ID!, $lines: [ShipmentLineInput!]!, $carrier: String!, $t: String!) {
  shipmentCreate(orderId: $o, carrier: $carrier, trackingNumber: $t, lines: $lines) {
    shipment { id number carrier trackingNumber isLate lines { quantity orderLine { sku } } }
    order { status shippedAt isLate }
    errors { field code message } } }"""
ACCEPT = """mutation($id: ID!, $lines: [OrderAcceptLineInput!]) {
  shipmentAccept(id: $id, lines: $lines) {
    shipment { acceptedAt lines { quantity acceptedQuantity } }
    order { status acceptedValue { amount } paymentDueDate }
    errors { field code message } } }"""
DELIVERED = """mutation($id: ID!) { shipmentMarkDelivered(id: $id) {
  shipment { deliveredAt } errors { field code } } }"""
ORDER_ACCEPT = """mutation($id: ID!, $lines: [OrderAcceptLineInput!]) {
  orderAccept(id: $id, lines: $lines) { order { status acceptedValue { amount } }
  errors { field code } } }"""


@pytest.fixture
def confirmed(db):
    """A confirmed order of two lines (10 × 20.00 and 4 × 50.00) and its agency's user."""
    user = buyer()
    goji = stocked_variant(stock=100, price="20.00")
    wine = stocked_variant(stock=100, price="50.00", supplier=goji.product.supplier)
    (order,) = place(user, (goji, 10), (wine, 4))
    flows.orders.order_confirm(acting_user=staff_of(order.supplier), order_id=order.pk)
    goji_line, wine_line = order.lines.order_by("id")
    return order, user, goji_line, wine_line


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def ship(gql, order, *lines, tracking="SF0001", carrier="顺丰速运", user=None):
    return gql(
        CREATE,
        {
            "o": gid("Order", order.pk),
            "carrier": carrier,
            "t": tracking,
            "lines": [{"lineId": gid("OrderLine", line.pk), "quantity": q} for line, q in lines],
        },
        user=user or staff_of(order.supplier),
    )["data"]["shipmentCreate"]


def accept(gql, shipment_id, user, **accepted):
    lines = [{"lineId": gid("OrderLine", pk), "acceptedQuantity": q} for pk, q in accepted.items()]
    return gql(ACCEPT, {"id": shipment_id, "lines": lines}, user=user)["data"]["shipmentAccept"]


def state(order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        list(ShipmentLine.objects.values_list("shipment_id", "quantity", "accepted_quantity")),
        list(Shipment.objects.values_list("pk", "delivered_at", "accepted_at")),
        sorted(ProductVariant.objects.values_list("pk", "stock")),
    )


def test_an_order_ships_in_two_parcels_and_is_shipped_with_the_last(gql, confirmed):
    order, _user, goji, wine = confirmed
    first = ship(gql, order, (goji, 6))
    assert first["errors"] == []
    assert first["shipment"]["number"] == 1
    assert first["order"] == {"status": "CONFIRMED", "shippedAt": None, "isLate": False}
    second = ship(gql, order, (goji, 4), (wine, 4), tracking="SF0002")
    assert second["errors"] == []
    assert [line["quantity"] for line in second["shipment"]["lines"]] == [4, 4]
    assert second["order"]["status"] == "SHIPPED"
    assert second["order"]["shippedAt"] is not None


@pytest.mark.parametrize(
    ("lines", "field", "code"),
    [
        (lambda goji, wine: [(goji, 11)], "lines.0.quantity", "INVALID_QUANTITY"),
        (lambda goji, wine: [(goji, 0)], "lines.0.quantity", "INVALID_QUANTITY"),
        (lambda goji, wine: [(wine, 1), (wine, 1)], "lines.1.lineId", "NOT_FOUND"),
        (lambda goji, wine: [], "lines", "NO_LINES"),
    ],
)
def test_bad_shipment_lines_are_refused_and_change_nothing(gql, confirmed, lines, field, code):
    order, _user, goji, wine = confirmed
    before = state(order)
    result = ship(gql, order, *lines(goji, wine))
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)]
    assert result["shipment"] is None
    assert state(order) == before


def test_a_shipment_cannot_exceed_what_is_left_to_ship(gql, confirmed):
    order, _user, goji, _wine = confirmed
    ship(gql, order, (goji, 7))
    before = state(order)
    result = ship(gql, order, (goji, 4), tracking="SF0002")
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("lines.0.quantity", "INVALID_QUANTITY")
    ]
    assert "already shipped 7" in result["errors"][0]["message"]
    assert state(order) == before


def test_a_line_of_another_order_is_not_found(gql, confirmed):
    order, user, _goji, _wine = confirmed
    (other,) = place(user, (stocked_variant(supplier=order.supplier), 1))
    before = state(order)
    result = ship(gql, order, (other.lines.get(), 1))
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("lines.0.lineId", "NOT_FOUND")]
    assert state(order) == before


@pytest.mark.parametrize(
    ("carrier", "tracking", "field"), [("", "SF1", "carrier"), ("顺丰", " ", "trackingNumber")]
)
def test_carrier_and_tracking_number_are_required(gql, confirmed, carrier, tracking, field):
    order, _user, goji, _wine = confirmed
    before = state(order)
    result = ship(gql, order, (goji, 1), carrier=carrier, tracking=tracking)
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, "REQUIRED")]
    assert state(order) == before


def test_an_unconfirmed_order_cannot_ship(gql, db):
    user = buyer()
    (order,) = place(user, (stocked_variant(), 2))
    before = state(order)
    result = ship(gql, order, (order.lines.get(), 1))
    assert [e["code"] for e in result["errors"]] == ["INVALID_TRANSITION"]
    assert state(order) == before


def test_accepting_each_parcel_accepts_the_order_with_the_last(gql, confirmed):
    order, user, goji, wine = confirmed
    first = ship(gql, order, (goji, 6))["shipment"]["id"]
    second = ship(gql, order, (goji, 4), (wine, 4), tracking="SF0002")["shipment"]["id"]
    one = accept(gql, first, user, **{str(goji.pk): 5})  # one jar broken
    assert one["errors"] == []
    assert one["order"]["status"] == "SHIPPED"
    assert one["shipment"]["lines"] == [{"quantity": 6, "acceptedQuantity": 5}]
    two = accept(gql, second, user)
    assert two["errors"] == []
    # 9 × 20.00 + 4 × 50.00
    assert two["order"]["status"] == "ACCEPTED"
    assert two["order"]["acceptedValue"] == {"amount": "380.00"}
    assert two["order"]["paymentDueDate"] is not None
    goji.refresh_from_db()
    assert goji.accepted_quantity == 9
    assert ProductVariant.objects.get(pk=goji.variant_id).stock == 91  # the broken jar is back


def test_a_parcel_accepted_before_the_rest_ships_waits_for_the_last(gql, confirmed):
    order, user, goji, wine = confirmed
    first = ship(gql, order, (goji, 10))["shipment"]["id"]
    assert accept(gql, first, user)["order"]["status"] == "CONFIRMED"
    second = ship(gql, order, (wine, 4), tracking="SF0002")
    assert second["order"]["status"] == "SHIPPED"
    assert accept(gql, second["shipment"]["id"], user)["order"]["status"] == "ACCEPTED"


def test_a_parcel_is_accepted_once(gql, confirmed):
    order, user, goji, _wine = confirmed
    first = ship(gql, order, (goji, 10))["shipment"]["id"]
    accept(gql, first, user)
    before = state(order)
    again = accept(gql, first, user)
    assert [e["code"] for e in again["errors"]] == ["INVALID_TRANSITION"]
    assert state(order) == before


def test_accepting_more_than_the_parcel_carries_is_refused(gql, confirmed):
    order, user, goji, wine = confirmed
    first = ship(gql, order, (goji, 6))["shipment"]["id"]
    before = state(order)
    result = accept(gql, first, user, **{str(goji.pk): 7})
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("lines.0.acceptedQuantity", "INVALID_QUANTITY")
    ]
    result = accept(gql, first, user, **{str(wine.pk): 1})  # not in this parcel
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("lines.0.lineId", "NOT_FOUND")]
    assert state(order) == before


def test_order_accept_still_accepts_an_order_shipped_in_parcels(gql, confirmed):
    order, user, goji, wine = confirmed
    ship(gql, order, (goji, 6))
    ship(gql, order, (goji, 4), (wine, 4), tracking="SF0002")
    lines = [{"lineId": gid("OrderLine", goji.pk), "acceptedQuantity": 8}]
    result = gql(ORDER_ACCEPT, {"id": gid("Order", order.pk), "lines": lines}, user=user)
    assert result["data"]["orderAccept"]["errors"] == []
    assert result["data"]["orderAccept"]["order"]["acceptedValue"] == {"amount": "360.00"}
    # The accepted units are spread over the parcels in shipping order.
    assert sorted(
        ShipmentLine.objects.filter(order_line=goji).values_list("quantity", "accepted_quantity")
    ) == [(4, 2), (6, 6)]
    assert not Shipment.objects.filter(accepted_at__isnull=True).exists()


def test_order_accept_is_refused_once_a_parcel_was_accepted_on_its_own(gql, confirmed):
    order, user, goji, wine = confirmed
    first = ship(gql, order, (goji, 10))["shipment"]["id"]
    ship(gql, order, (wine, 4), tracking="SF0002")
    accept(gql, first, user)
    before = state(order)
    result = gql(ORDER_ACCEPT, {"id": gid("Order", order.pk)}, user=user)
    assert [e["code"] for e in result["data"]["orderAccept"]["errors"]] == ["INVALID_TRANSITION"]
    assert state(order) == before


def test_order_ship_is_one_parcel_with_everything_left(gql, confirmed):
    order, _user, goji, wine = confirmed
    ship(gql, order, (goji, 3))
    flows.orders.order_ship(
        acting_user=staff_of(order.supplier), order_id=order.pk, tracking_number="SF9"
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    last = order.shipments.get(number=2)
    assert sorted(last.lines.values_list("order_line_id", "quantity")) == [
        (goji.pk, 7),
        (wine.pk, 4),
    ]


def test_a_parcel_is_marked_delivered_once(gql, confirmed):
    order, _user, goji, _wine = confirmed
    first = ship(gql, order, (goji, 10))["shipment"]["id"]
    staff = staff_of(order.supplier)
    done = gql(DELIVERED, {"id": first}, user=staff)["data"]["shipmentMarkDelivered"]
    assert done["errors"] == []
    assert done["shipment"]["deliveredAt"] is not None
    before = state(order)
    again = gql(DELIVERED, {"id": first}, user=staff)["data"]["shipmentMarkDelivered"]
    assert [e["code"] for e in again["errors"]] == ["INVALID_TRANSITION"]
    assert state(order) == before


def test_a_late_last_parcel_makes_the_order_late_like_a_late_single_shipment(gql, confirmed):
    order, _user, goji, wine = confirmed
    early = ship(gql, order, (goji, 10))
    assert early["shipment"]["isLate"] is False
    with time_machine.travel(timezone.now() + timedelta(days=order.ship_within_days + 2)):
        late = ship(gql, order, (wine, 4), tracking="SF0002")
    assert late["shipment"]["isLate"] is True
    assert late["order"]["isLate"] is True


def test_a_partly_shipped_order_past_its_date_is_late(gql, confirmed):
    order, _user, goji, _wine = confirmed
    ship(gql, order, (goji, 10))
    query = "query($id: ID!) { order(id: $id) { isLate status } }"
    with time_machine.travel(timezone.now() + timedelta(days=order.ship_within_days + 2)):
        seen = gql(query, {"id": gid("Order", order.pk)}, user=staff_of(order.supplier))
    assert seen["data"]["order"] == {"isLate": True, "status": "CONFIRMED"}


def test_an_orders_parcels_and_shipped_quantities_are_read_in_a_fixed_number_of_queries(
    gql, confirmed
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order, user, goji, wine = confirmed
    query = """{ orders { edges { node { lines { shippedQuantity }
      shipments { number isLate lines { quantity orderLine { sku } } } } } } }"""
    ship(gql, order, (goji, 6))
    with CaptureQueriesContext(connection) as queries:
        gql(query, user=user)
    fewer = len(queries)
    for _ in range(3):
        (more,) = place(user, (stocked_variant(supplier=order.supplier), 2))
        flows.to_shipped(more)
    ship(gql, order, (goji, 4), tracking="SF0002")
    with CaptureQueriesContext(connection) as queries:
        edges = gql(query, user=user)["data"]["orders"]["edges"]
    assert len(queries) == fewer
    lines = [node["node"]["lines"] for node in edges]
    assert [10, 0] in [[line["shippedQuantity"] for line in group] for group in lines]
    assert [2] in [[line["shippedQuantity"] for line in group] for group in lines]
