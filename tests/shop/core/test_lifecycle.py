"""Lifecycles as data, one mover (shop/core/lifecycle.py): suppliers, products and orders
change status only through `lifecycle.move`, which checks the declared table, stamps the time,
writes the history row (one shape for the three) and the audit event; an order's other events
go through `record_order_event`."""

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from catalog.errors import CatalogErrorCode
from catalog.models import (
    PRODUCT_LIFECYCLE,
    SUPPLIER_LIFECYCLE,
    ProductStatus,
    ProductTransition,
    SupplierStatus,
    SupplierTransition,
)
from procurement.errors import ProcurementErrorCode
from procurement.models import OrderEvent, OrderStatus
from procurement.models.orders import ORDER_LIFECYCLE
from shop.accounts.models import Role
from shop.core import lifecycle
from shop.core.errors import CommonErrorCode, InvalidTransition
from shop.core.models import AuditEvent, TransitionRecord
from tests.factories import ProductFactory, SupplierFactory, UserFactory
from tests.factories.catalog import county
from tests.procurement import flows
from tests.procurement.flows import buyer, place, staff_of, stocked_variant

ROOT = Path(__file__).resolve().parents[3]
LIFECYCLES = {
    "supplier": (SUPPLIER_LIFECYCLE, CatalogErrorCode),
    "product": (PRODUCT_LIFECYCLE, CatalogErrorCode),
    "order": (ORDER_LIFECYCLE, ProcurementErrorCode),
}
SHARED = {"kind", "from_status", "to_status", "actor", "actor_email", "note", "created_at"}


@pytest.mark.parametrize("subject", LIFECYCLES)
def test_each_lifecycle_refuses_with_its_domain_code_and_keeps_a_history_of_the_one_shape(
    subject,
):
    machine, domain = LIFECYCLES[subject]
    assert machine.invalid_transition is domain.INVALID_TRANSITION
    history = machine.history_model()
    assert issubclass(history, TransitionRecord)
    assert SHARED <= {field.name for field in history._meta.get_fields()}
    assert history._meta.get_field(subject).related_model._meta.model_name == subject


class Light(models.TextChoices):
    RED = "RED"
    GREEN = "GREEN"


@pytest.mark.parametrize(
    ("transitions", "stamps"),
    [
        ({Light.RED: frozenset({Light.GREEN})}, {}),  # GREEN has no row
        ({Light.RED: frozenset({"AMBER"}), Light.GREEN: frozenset()}, {}),  # AMBER unknown
        ({Light.RED: frozenset(), Light.GREEN: frozenset()}, {"AMBER": "amber_at"}),
    ],
)
def test_a_status_the_table_and_the_enum_do_not_agree_on_fails_at_declaration(transitions, stamps):
    with pytest.raises(ValueError, match="light lifecycle"):
        lifecycle.Lifecycle(
            subject="light",
            statuses=Light,
            transitions=transitions,
            stamps=stamps,
            history="procurement.OrderEvent",
            invalid_transition=CommonErrorCode.INVALID,
        )


@pytest.mark.smoke
def test_a_move_stamps_the_time_and_writes_the_history_and_the_audit_event_in_three_queries(
    db,
):
    (order,) = place(buyer(), (stocked_variant(), 2))
    staff = staff_of(order.supplier)
    with CaptureQueriesContext(connection) as queries:
        event = lifecycle.move(
            ORDER_LIFECYCLE, order, OrderStatus.CONFIRMED, actor=staff, note="ok"
        )
    # The order's UPDATE, the event's INSERT, the audit event's INSERT.
    assert len(queries) == 3
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.confirmed_at is not None
    stored = OrderEvent.objects.get(pk=event.pk)
    assert (
        stored.kind,
        stored.from_status,
        stored.to_status,
        stored.actor,
        stored.actor_email,
        stored.note,
    ) == ("confirmed", "PLACED", "CONFIRMED", staff, staff.email, "ok")
    audit = AuditEvent.objects.get(action="order.confirmed", object_id=str(order.pk))
    assert (audit.data, audit.reason) == ({"from": "PLACED", "to": "CONFIRMED"}, "ok")


@pytest.mark.smoke
def test_a_move_the_table_refuses_changes_nothing(db):
    (order,) = place(buyer(), (stocked_variant(), 2))
    events, audits = OrderEvent.objects.count(), AuditEvent.objects.count()
    with pytest.raises(InvalidTransition) as refused:
        lifecycle.move(ORDER_LIFECYCLE, order, OrderStatus.SHIPPED, actor=staff_of(order.supplier))
    assert (refused.value.code, refused.value.field) == ("INVALID_TRANSITION", "id")
    assert order.status == OrderStatus.PLACED
    order.refresh_from_db()
    assert (order.status, order.shipped_at) == (OrderStatus.PLACED, None)
    assert (OrderEvent.objects.count(), AuditEvent.objects.count()) == (events, audits)


def test_an_order_history_names_who_acted_on_every_event(db, operator):
    user = buyer()
    (order,) = place(user, (stocked_variant(price="10.00"), 2))
    flows.to_accepted(order, user)
    flows.pay_by_transfer(order, operator)
    flows.invoice(order)
    flows.orders.order_complete(acting_user=user, order_id=order.pk)
    history = list(order.events.values_list("kind", "from_status", "to_status", "actor_email"))
    supplier = staff_of(order.supplier).email
    assert history == [
        ("placed", "", "PLACED", user.email),
        ("confirmed", "PLACED", "CONFIRMED", supplier),
        ("shipment", "", "", supplier),
        ("shipped", "CONFIRMED", "SHIPPED", supplier),
        ("accepted", "SHIPPED", "ACCEPTED", user.email),
        ("paid", "", "", operator.email),
        ("invoice", "", "", supplier),
        ("completed", "ACCEPTED", "COMPLETED", user.email),
    ]


HISTORY_MODELS = ("OrderEvent", "SupplierTransition", "ProductTransition")


def test_history_rows_are_written_only_through_the_mover_and_record_order_event():
    # Code that wrote a history row itself would skip the table, the stamp or the audit. (The
    # catalog demo's made-up past is the one exception.)
    written = re.compile(rf"\b({'|'.join(HISTORY_MODELS)})(\.objects\.|\()")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for app in ("catalog", "procurement", "search", "shop")
        for path in sorted((ROOT / app).rglob("*.py"))
        if not {"migrations", "models"} & set(path.parts)
        and path.name not in ("models.py", "demo.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if written.search(line)
    ]
    assert found == []
    assert written.search("OrderEvent.objects.create(order=order)")  # the pattern does match


catalog_history = importlib.import_module("catalog.migrations.0008_history_one_shape")
order_history = importlib.import_module("procurement.migrations.0016_history_one_shape")


def test_histories_written_before_the_one_shape_are_filled_in(db):
    """The migrations rename and add columns (every row kept) and fill in what old rows lack:
    run here against the current models, which have the columns they write."""
    S = SupplierStatus
    supplier = SupplierFactory(status=S.ADMITTED)
    reviewer = UserFactory(role=Role.COUNTY_REVIEWER, county=county("640521"))
    operator = UserFactory(role=Role.OPERATOR)
    old = [
        ("", S.APPLIED, None),
        (S.APPLIED, S.REJECTED, reviewer),
        (S.REJECTED, S.APPLIED, None),
        (S.APPLIED, S.REJECTED, operator),
        (S.EXITED, S.APPLIED, None),
        (S.APPLIED, S.ADMITTED, operator),
        (S.ADMITTED, S.SUSPENDED, None),
    ]
    for from_status, to_status, actor in old:
        SupplierTransition.objects.create(
            supplier=supplier, from_status=from_status, to_status=to_status, actor=actor
        )
    product = ProductFactory(supplier=supplier)
    ProductTransition.objects.create(
        product=product, to_status=ProductStatus.PENDING_CERTIFICATION, actor=operator
    )
    (order,) = place(buyer(), (stocked_variant(), 1))
    OrderEvent.objects.update(actor_email="")

    catalog_history.fill_in(apps, None)
    order_history.fill_in(apps, None)

    assert list(SupplierTransition.objects.values_list("kind", flat=True)) == [
        "apply",
        "decline",
        "reapply",
        "reject",
        "reapply",
        "admit",
        "suspend",
    ]
    assert list(ProductTransition.objects.values_list("kind", "actor_email")) == [
        ("pending_certification", operator.email)
    ]
    assert list(order.events.values_list("actor_email", flat=True)) == [
        order.checkout.placed_by.email
    ]
