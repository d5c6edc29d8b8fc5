"""Each role against each procurement mutation: refused calls change nothing; another
organisation's order is answered like an unknown one."""

import pytest
from django.apps import apps
from graphql_relay import to_global_id

from procurement.models import Order
from shop.accounts.models import Role
from shop.core.models import AuditEvent
from tests.conftest import assert_outsider_not_found, id_mutation, mutation_matrix_cell
from tests.factories import UserFactory
from tests.factories.catalog import credit_code
from tests.factories.procurement import city
from tests.procurement import flows
from tests.procurement.flows import buyer, place, staff_of, stocked_variant


def snapshot() -> dict:
    state = {m.__name__: m.objects.count() for m in apps.get_app_config("procurement").get_models()}
    state["orders"] = sorted(
        Order.objects.values_list("pk", "status", "payment_status", "refunded_amount")
    )
    from catalog.models import ProductVariant

    state["stock"] = sorted(ProductVariant.objects.values_list("pk", "stock"))
    state["audit"] = AuditEvent.objects.count()
    return state


@pytest.fixture
def world(db):
    operator = UserFactory(role=Role.OPERATOR)
    agency_user = buyer()
    variant = stocked_variant(stock=100, price="20.00")
    placed = place(agency_user, (variant, 2))[0]
    shipped = place(agency_user, (variant, 2))[0]
    flows.to_shipped(shipped)
    accepted = place(agency_user, (variant, 2))[0]
    flows.to_accepted(accepted, agency_user)
    paid = place(agency_user, (variant, 2))[0]
    flows.to_accepted(paid, agency_user)
    flows.pay_by_transfer(paid, operator)
    complaint = flows.complaints.complaint_create(
        acting_user=agency_user, order_id=shipped.pk, kind="QUALITY", description="霉变"
    )
    users = flows.one_user_per_role(
        operator=operator, agency_user=agency_user, supplier=variant.product.supplier
    )
    ids = {
        "agency": to_global_id("Agency", agency_user.agency_id),
        "variant": to_global_id("ProductVariant", variant.pk),
        "placed": to_global_id("Order", placed.pk),
        "shipped": to_global_id("Order", shipped.pk),
        "accepted": to_global_id("Order", accepted.pk),
        "paid": to_global_id("Order", paid.pk),
        "complaint": to_global_id("Complaint", complaint.pk),
        "city": to_global_id("City", city().pk),
        "new_agency_code": credit_code(424242, prefix="123502"),
        "supplier_code": variant.product.supplier.credit_code,
    }
    return users, ids


MUTATIONS = {
    "agencyCreate": (
        """mutation($c: ID!, $code: String!) { agencyCreate(input: {name: "厦门市第一医院", creditCode: $code,
            type: HOSPITAL, cityId: $c}) { errors { code } } }""",
        lambda ids: {"c": ids["city"], "code": ids["new_agency_code"]},
    ),
    "reservedSharePlanSet": (
        """mutation($a: ID!) { reservedSharePlanSet(agencyId: $a, year: 2026, canteenTotal: "1000000",
            ratio: "0.15") { errors { code } } }""",
        lambda ids: {"a": ids["agency"]},
    ),
    "checkoutCreate": (
        """mutation($v: ID!) { checkoutCreate(lines: [{variantId: $v, quantity: 1}], idempotencyKey: "perm-key-0001",
            shippingAddress: {recipient: "A", phone: "1", address: "B"}) { errors { code } } }""",
        lambda ids: {"v": ids["variant"]},
    ),
    "orderConfirm": id_mutation("orderConfirm", "placed"),
    "orderReject": (
        'mutation($id: ID!) { orderReject(id: $id, reason: "r") { errors { code } } }',
        lambda ids: {"id": ids["placed"]},
    ),
    "orderShip": (
        'mutation($id: ID!) { orderShip(id: $id, trackingNumber: "SF") { errors { code } } }',
        lambda ids: {"id": ids["placed"]},
    ),
    "orderAccept": id_mutation("orderAccept", "shipped"),
    "orderCancel": id_mutation("orderCancel", "placed"),
    "orderInvoiceAttach": (
        """mutation($id: ID!, $code: String!) { orderInvoiceAttach(id: $id, number: "FP1", sellerCreditCode: $code,
            amount: "40.00") { errors { code } } }""",
        lambda ids: {"id": ids["accepted"], "code": ids["supplier_code"]},
    ),
    "orderComplete": id_mutation("orderComplete", "accepted"),
    "paymentCreate": (
        "mutation($id: ID!) { paymentCreate(orderId: $id, method: BANK_TRANSFER) { errors { code } } }",
        lambda ids: {"id": ids["accepted"]},
    ),
    "paymentRecordTransfer": (
        'mutation($id: ID!) { paymentRecordTransfer(orderId: $id, reference: "R1") { errors { code } } }',
        lambda ids: {"id": ids["accepted"]},
    ),
    "orderRefund": (
        'mutation($id: ID!) { orderRefund(orderId: $id, amount: "1.00", reason: "r") { errors { code } } }',
        lambda ids: {"id": ids["paid"]},
    ),
    "complaintCreate": (
        'mutation($id: ID!) { complaintCreate(orderId: $id, kind: QUALITY, description: "d") { errors { code } } }',
        lambda ids: {"id": ids["shipped"]},
    ),
    "complaintResolve": (
        'mutation($id: ID!) { complaintResolve(id: $id, upheld: true, note: "n") { errors { code } } }',
        lambda ids: {"id": ids["complaint"]},
    ),
}
# Allowed roles whose call in this world ends in a domain error rather than a change.
EXPECTED_DOMAIN_ERRORS = {
    ("orderShip", Role.SUPPLIER): ["INVALID_TRANSITION"],  # placed, not confirmed yet
    ("orderComplete", Role.AGENCY): ["INVOICE_REQUIRED"],
    ("orderComplete", Role.OPERATOR): ["INVOICE_REQUIRED"],
}


@pytest.mark.parametrize("role", [None, *Role])
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_procurement_mutation_permission_matrix(gql, world, name, role):
    mutation_matrix_cell(gql, world, MUTATIONS, name, role, snapshot, EXPECTED_DOMAIN_ERRORS)


@pytest.mark.parametrize(
    "name", ["orderAccept", "orderCancel", "paymentCreate", "complaintCreate", "orderComplete"]
)
def test_an_agency_cannot_touch_another_agencys_order(gql, world, name):
    outsider = buyer()
    assert_outsider_not_found(gql, world, MUTATIONS, name, outsider, snapshot)


@pytest.mark.parametrize("name", ["orderConfirm", "orderReject", "orderShip", "orderRefund"])
def test_a_supplier_cannot_touch_another_suppliers_order(gql, world, name):
    outsider = staff_of(flows.new_supplier())
    assert_outsider_not_found(gql, world, MUTATIONS, name, outsider, snapshot)
