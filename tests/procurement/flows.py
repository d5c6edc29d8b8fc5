"""Drive orders through their lifecycle with the real services (for tests and the demo)."""

import uuid
from decimal import Decimal

from procurement.models import Order
from procurement.services import checkout, complaints, orders, payments  # noqa: F401 - re-exported for tests
from shop.accounts.models import Role
from tests.factories import AgencyFactory, SupplierFactory, UserFactory, VariantFactory
from tests.factories.roles import one_user_per_role, staff_of  # noqa: F401 - re-exported for tests

ADDRESS = checkout.ShippingAddress("王老师", "0591-87654321", "福州市鼓楼区杨桥东路1号")


def buyer(agency=None, **agency_fields):
    return UserFactory(role=Role.AGENCY, agency=agency or AgencyFactory(**agency_fields))


def stocked_variant(stock=100, price="100.00", moq=1, supplier=None, **product):
    fields = {f"product__{key}": value for key, value in product.items()}
    if supplier is not None:
        fields["product__supplier"] = supplier
    return VariantFactory(
        stock=stock, unit_price=Decimal(price), minimum_order_quantity=moq, **fields
    )


def place(user, *lines, key=None, ship_within_days=7) -> list[Order]:
    return checkout.checkout_create(
        acting_user=user,
        lines=[checkout.CheckoutLine(variant.pk, quantity) for variant, quantity in lines],
        shipping=ADDRESS,
        idempotency_key=key or uuid.uuid4().hex,
        ship_within_days=ship_within_days,
    )


def checkout_statements(lines_per_supplier: int, suppliers: int, *, staffed=False) -> list[str]:
    """The SQL a new buyer's checkout runs (white space folded) for a basket of one unit of
    `lines_per_supplier` variants from each of `suppliers` suppliers (`staffed`: each with a
    staff member to e-mail)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = buyer()
    sellers = [new_supplier() for _ in range(suppliers)]
    for seller in sellers if staffed else []:
        staff_of(seller)
    variants = [
        stocked_variant(stock=100, supplier=seller)
        for seller in sellers
        for _ in range(lines_per_supplier)
    ]
    with CaptureQueriesContext(connection) as queries:
        place(user, *[(variant, 1) for variant in variants])
    return [" ".join(q["sql"].split()) for q in queries.captured_queries]


def to_shipped(order: Order) -> Order:
    staff = staff_of(order.supplier)
    orders.order_confirm(acting_user=staff, order_id=order.pk)
    return orders.order_ship(acting_user=staff, order_id=order.pk, tracking_number="SF1234567890")


def to_accepted(order: Order, user, accepted: dict | None = None) -> Order:
    to_shipped(order)
    lines = [
        orders.AcceptedLine(line_id, quantity) for line_id, quantity in (accepted or {}).items()
    ]
    return orders.order_accept(acting_user=user, order_id=order.pk, lines=lines)


def pay_by_transfer(order: Order, operator) -> Order:
    payments.payment_record_transfer(
        acting_user=operator, order_id=order.pk, reference=f"BANK-{order.pk}"
    )
    order.refresh_from_db()
    return order


def invoice(order: Order) -> Order:
    order.refresh_from_db()
    return orders.order_invoice_attach(
        acting_user=staff_of(order.supplier),
        order_id=order.pk,
        number=f"FP{order.pk:08d}",
        seller_credit_code=order.supplier.credit_code,
        amount=order.accepted_value,
    )


def new_supplier(**fields):
    return SupplierFactory(**fields)
