"""Shipping an order in one or more parcels, and accepting (验收) each parcel.

An order stays CONFIRMED while parcels leave and becomes SHIPPED (its `shipped_at` stamped)
when the last ordered unit has shipped, so "late" keeps its meaning: not everything shipped by
the latest ship date. The buyer accepts each parcel; when every parcel of a fully shipped order
is accepted, the order is accepted as a whole (`orders.accept_lines`), which is what starts
the payment term and, with the payment, books the ledger. See docs/decisions.md, "Shipments
(issue 17)"."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from procurement import notifications
from procurement.access import POLICIES, order_for, own_rows
from procurement.errors import ProcurementErrorCode
from procurement.models import Order, OrderStatus, Shipment, ShipmentLine
from procurement.models.orders import ORDER_LIFECYCLE
from procurement.services.orders import (
    AcceptedLine,
    LineLimit,
    accept_lines,
    checked_quantities,
    record_order_event,
)
from shop.core import lifecycle, validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, InvalidTransition, NotFound
from shop.core.permissions import require_role

S = OrderStatus


@dataclass(frozen=True)
class ShippedLine:
    line_id: int | None
    quantity: int


def shipped_quantities(order: Order) -> dict[int, int]:
    """Units shipped so far per order line (line id → units)."""
    rows = (
        ShipmentLine.objects.filter(shipment__order=order)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["order_line_id"]: row["units"] for row in rows}


def _text(value: str, *, column: str, field: str, required: bool) -> str:
    text = validation.text(
        value or "",
        column=Shipment._meta.get_field(column),
        field=field,
        code=ProcurementErrorCode.INVALID,
    ).strip()
    if required and not text:
        raise DomainError(
            f"`{field}` is required.", code=ProcurementErrorCode.REQUIRED, field=field
        )
    return text


def _require_confirmed(order: Order) -> None:
    if order.status != S.CONFIRMED:
        raise InvalidTransition(
            f"Only a CONFIRMED order with units left to ship can ship; this one is {order.status}.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="orderId",
        )


def _record(
    order: Order, units: dict[int, int], *, actor: Any, carrier: str, tracking_number: str
) -> Shipment:
    """Store the parcel; the order becomes SHIPPED when nothing is left to ship."""
    shipment = Shipment.objects.create(
        order=order,
        number=order.shipments.count() + 1,
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=timezone.now(),
        created_by=actor,
    )
    ShipmentLine.objects.bulk_create(
        [
            ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=quantity)
            for line_id, quantity in units.items()
        ]
    )
    note = f"{carrier} {tracking_number}".strip()
    record_order_event(order, kind="shipment", actor=actor, note=note)
    audit_record(
        actor=actor,
        action="order.shipment",
        target=order,
        data={"shipment": shipment.number, "lines": {str(k): v for k, v in units.items()}},
    )
    if not order.tracking_number:
        order.tracking_number = tracking_number
        order.save(update_fields=["tracking_number"])
    shipped = shipped_quantities(order)
    fully_shipped = all(shipped.get(line.pk, 0) >= line.quantity for line in order.lines.all())
    if fully_shipped:
        lifecycle.move(ORDER_LIFECYCLE, order, S.SHIPPED, actor=actor, note=note)
    notifications.order_shipment(order, shipment, fully_shipped=fully_shipped)
    return shipment


def ship_the_rest(order: Order, *, actor: Any, tracking_number: str) -> Shipment:
    """`orderShip`: one parcel with every unit not shipped yet (the caller holds the lock)."""
    tracking_number = _text(
        tracking_number, column="tracking_number", field="trackingNumber", required=True
    )
    ORDER_LIFECYCLE.check(order.status, S.SHIPPED)
    shipped = shipped_quantities(order)
    units = {
        line.pk: line.quantity - shipped.get(line.pk, 0)
        for line in order.lines.all()
        if line.quantity > shipped.get(line.pk, 0)
    }
    return _record(order, units, actor=actor, carrier="", tracking_number=tracking_number)


@transaction.atomic
def shipment_create(
    *,
    acting_user: Any,
    order_id: int | None,
    carrier: str,
    tracking_number: str,
    lines: list[ShippedLine],
) -> Shipment:
    """The supplier ships some units of its own confirmed order. Each line's units must be
    positive and at most what was ordered less what already shipped."""
    order = order_for(acting_user, order_id, roles=POLICIES["shipmentCreate"])
    carrier = _text(carrier, column="carrier", field="carrier", required=True)
    tracking_number = _text(
        tracking_number, column="tracking_number", field="trackingNumber", required=True
    )
    _require_confirmed(order)
    if not lines:
        raise DomainError(
            "Name at least one line to ship.", code=ProcurementErrorCode.NO_LINES, field="lines"
        )
    shipped = shipped_quantities(order)
    units = checked_quantities(
        [(item.line_id, item.quantity) for item in lines],
        {
            line.pk: LineLimit(
                line.quantity - shipped.get(line.pk, 0),
                line.product_name,
                f" (ordered {line.quantity}, already shipped {shipped.get(line.pk, 0)})",
            )
            for line in order.lines.all()
        },
        field="quantity",
        verb="Ship",
        least=1,
    )
    return _record(
        order, units, actor=acting_user, carrier=carrier, tracking_number=tracking_number
    )


def _shipment_for(acting_user: Any, shipment_id: int | None, *, roles: tuple[str, ...]) -> Shipment:
    """The shipment, its order locked, if the caller may act on it; another organisation's
    answers like an unknown one."""
    require_role(acting_user, *roles)
    orders = own_rows(Order.objects.all(), acting_user)
    order_id = (
        Shipment.objects.filter(pk=shipment_id, order__in=orders)
        .values_list("order_id", flat=True)
        .first()
    )
    if order_id is None:
        raise NotFound("No such shipment.", field="id")
    order = order_for(acting_user, order_id, roles=roles)
    shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
    shipment.order = order
    return shipment


@transaction.atomic
def shipment_mark_delivered(*, acting_user: Any, shipment_id: int | None) -> Shipment:
    """The supplier records that a parcel arrived (once)."""
    shipment = _shipment_for(acting_user, shipment_id, roles=POLICIES["shipmentMarkDelivered"])
    if shipment.delivered_at is not None:
        raise InvalidTransition(
            "This shipment is already marked delivered.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )
    shipment.delivered_at = timezone.now()
    shipment.save(update_fields=["delivered_at"])
    record_order_event(
        shipment.order, kind="delivered", actor=acting_user, note=str(shipment.number)
    )
    return shipment


def _all_accepted(order: Order) -> bool:
    return not order.shipments.filter(accepted_at__isnull=True).exists()


@transaction.atomic
def shipment_accept(
    *, acting_user: Any, shipment_id: int | None, lines: list[AcceptedLine]
) -> Shipment:
    """验收 of one parcel (the buying agency): lines (order line ids) not named are accepted in
    full. When the order is fully shipped and this was its last unaccepted parcel, the order is
    accepted with the units accepted across its parcels."""
    shipment = _shipment_for(acting_user, shipment_id, roles=POLICIES["shipmentAccept"])
    order = shipment.order
    if shipment.accepted_at is not None or order.status not in (S.CONFIRMED, S.SHIPPED):
        raise InvalidTransition(
            "This shipment is already accepted.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )
    carried = {line.order_line_id: line for line in shipment.lines.select_related("order_line")}
    given = checked_quantities(
        [(item.line_id, item.accepted_quantity) for item in lines],
        {
            pk: LineLimit(line.quantity, line.order_line.product_name, " in this shipment")
            for pk, line in carried.items()
        },
        field="acceptedQuantity",
        verb="Accept",
    )
    for order_line_id, line in carried.items():
        line.accepted_quantity = given.get(order_line_id, line.quantity)
    ShipmentLine.objects.bulk_update(carried.values(), ["accepted_quantity"])
    now = timezone.now()
    shipment.accepted_at, shipment.accepted_by = now, acting_user
    shipment.delivered_at = shipment.delivered_at or now  # accepted, so it arrived
    shipment.save(update_fields=["accepted_at", "accepted_by", "delivered_at"])
    partial = any(line.accepted_quantity < line.quantity for line in carried.values())
    record_order_event(
        order,
        kind="shipment_accepted",
        actor=acting_user,
        note=f"{shipment.number}{' partial' if partial else ''}",
    )
    audit_record(
        actor=acting_user,
        action="order.shipment_accepted",
        target=order,
        data={"shipment": shipment.number, "partial": partial},
    )
    if order.status == S.SHIPPED and _all_accepted(order):
        accept_lines(order, _accepted_units(order), actor=acting_user)
    return shipment


def _accepted_units(order: Order) -> dict[int, int]:
    rows = (
        ShipmentLine.objects.filter(shipment__order=order)
        .values("order_line_id")
        .annotate(units=Sum("accepted_quantity"))
    )
    accepted = {row["order_line_id"]: row["units"] or 0 for row in rows}
    return {line.pk: accepted.get(line.pk, 0) for line in order.lines.all()}


def accept_all_shipments(order: Order, accepted: dict[int, int], *, actor: Any) -> None:
    """`orderAccept` on an order shipped in parcels: the accepted units of each line are
    spread over its parcels in shipping order. Refused once a parcel was accepted on its own
    (its units are decided; accept the others with `shipmentAccept`)."""
    shipments = list(order.shipments.prefetch_related("lines").order_by("number"))
    if not shipments:
        return  # shipped before parcels existed
    if any(shipment.accepted_at for shipment in shipments):
        raise InvalidTransition(
            "Some shipments of this order were accepted one by one: accept the others with "
            "shipmentAccept.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )
    left = dict(accepted)
    now = timezone.now()
    changed = []
    for shipment in shipments:
        for line in shipment.lines.all():
            line.accepted_quantity = min(line.quantity, left.get(line.order_line_id, 0))
            left[line.order_line_id] = left.get(line.order_line_id, 0) - line.accepted_quantity
            changed.append(line)
        shipment.accepted_at, shipment.accepted_by = now, actor
        shipment.delivered_at = shipment.delivered_at or now
    ShipmentLine.objects.bulk_update(changed, ["accepted_quantity"])
    Shipment.objects.bulk_update(shipments, ["accepted_at", "accepted_by", "delivered_at"])
