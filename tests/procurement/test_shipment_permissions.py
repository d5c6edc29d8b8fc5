"""Each role against the shipment mutations, as tests/procurement/test_permissions.py does for
the order mutations: refused calls change nothing; another organisation's shipment or order
answers like an unknown one."""

import pytest
from graphql_relay import to_global_id

from procurement.models import Shipment
from shop.accounts.models import Role
from tests.conftest import assert_outsider_not_found, id_mutation, mutation_matrix_cell
from tests.factories import UserFactory
from tests.procurement import flows
from tests.procurement.flows import buyer, place, staff_of, stocked_variant
from tests.procurement.test_permissions import snapshot as order_snapshot


def snapshot() -> dict:
    state = order_snapshot()
    state["shipments"] = sorted(
        Shipment.objects.values_list("pk", "delivered_at", "accepted_at", "tracking_number")
    )
    return state


@pytest.fixture
def shipping_world(db):
    agency_user = buyer()
    variant = stocked_variant(stock=100, price="20.00")
    confirmed = place(agency_user, (variant, 2))[0]
    flows.orders.order_confirm(acting_user=staff_of(confirmed.supplier), order_id=confirmed.pk)
    shipped = place(agency_user, (variant, 2))[0]
    flows.to_shipped(shipped)
    users = flows.one_user_per_role(
        operator=UserFactory(role=Role.OPERATOR),
        agency_user=agency_user,
        supplier=variant.product.supplier,
    )
    ids = {
        "confirmed": to_global_id("Order", confirmed.pk),
        "line": to_global_id("OrderLine", confirmed.lines.get().pk),
        "shipment": to_global_id("Shipment", shipped.shipments.get().pk),
    }
    return users, ids


MUTATIONS = {
    "shipmentCreate": (
        """mutation($o: ID!, $l: ID!) { shipmentCreate(orderId: $o, carrier: "顺丰", trackingNumber: "SF1",
            lines: [{lineId: $l, quantity: 1}]) { errors { code } } }""",
        lambda ids: {"o": ids["confirmed"], "l": ids["line"]},
    ),
    "shipmentMarkDelivered": id_mutation("shipmentMarkDelivered", "shipment"),
    "shipmentAccept": id_mutation("shipmentAccept", "shipment"),
}


@pytest.mark.parametrize("role", [None, *Role])
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_shipment_mutation_permission_matrix(gql, shipping_world, name, role):
    mutation_matrix_cell(gql, shipping_world, MUTATIONS, name, role, snapshot)


@pytest.mark.parametrize("name", ["shipmentCreate", "shipmentMarkDelivered"])
def test_a_supplier_cannot_ship_for_another_supplier(gql, shipping_world, name):
    outsider = staff_of(flows.new_supplier())
    assert_outsider_not_found(gql, shipping_world, MUTATIONS, name, outsider, snapshot)


def test_an_agency_cannot_accept_another_agencys_shipment(gql, shipping_world):
    _users, ids = shipping_world
    query, variables = MUTATIONS["shipmentAccept"]
    outsider = buyer()
    before = snapshot()
    response = gql(query, variables(ids), user=outsider)
    assert [e["code"] for e in response["data"]["shipmentAccept"]["errors"]] == ["NOT_FOUND"]
    assert snapshot() == before


SHIPMENTS = "query($id: ID!) { order(id: $id) { shipments { trackingNumber } } }"


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDITOR, Role.AGENCY, Role.SUPPLIER])
def test_an_orders_shipments_are_read_with_the_order(gql, shipping_world, role):
    users, _ids = shipping_world
    shipped = Shipment.objects.get().order
    response = gql(SHIPMENTS, {"id": to_global_id("Order", shipped.pk)}, user=users[role])
    assert response["data"]["order"]["shipments"] == [{"trackingNumber": "SF1234567890"}]


def test_another_organisation_does_not_see_the_shipments(gql, shipping_world):
    shipped = Shipment.objects.get().order
    for outsider in (buyer(), staff_of(flows.new_supplier())):
        response = gql(SHIPMENTS, {"id": to_global_id("Order", shipped.pk)}, user=outsider)
        assert response["data"]["order"] is None
