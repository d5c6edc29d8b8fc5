"""The order lifecycle's services (its table is `ORDER_LIFECYCLE` in procurement/models/orders.py):
confirm, reject, cancel, ship, accept, invoice, complete; and the order's history of events."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from catalog.models import ProductVariant
from procurement import notifications
from procurement.access import POLICIES, order_for
from procurement.errors import ProcurementErrorCode
from procurement.models import Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus
from procurement.models.orders import INVOICEABLE, ORDER_LIFECYCLE
from procurement.services import payment_terms
from shop.core import lifecycle, validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, InvalidTransition
from shop.core.money import quantize_cny

S = OrderStatus


def record_order_event(
    *orders: Order, kind: str, actor: Any, note: str = "", to_status: str = ""
) -> list[OrderEvent]:
    """The one way an order's history gains an event that is not a status move (a payment, a
    parcel, a complaint, the checkout placing it): one row per order, in one INSERT. Moves
    record theirs through `lifecycle.move(ORDER_LIFECYCLE, ...)`."""
    return lifecycle.record(
        ORDER_LIFECYCLE, *orders, kind=kind, actor=actor, note=note, to_status=to_status
    )


def _release_stock(order: Order, *, accepted_only: bool = False) -> None:
    """Give reserved units back: all of them, or after acceptance the rejected ones."""
    for line in order.lines.all().order_by("variant_id"):
        back = line.quantity - (line.accepted_quantity or 0) if accepted_only else line.quantity
        if back:
            ProductVariant.objects.filter(pk=line.variant_id).update(stock=F("stock") + back)


def _cancel(order: Order, *, actor: Any, reason: str, kind: str) -> Order:
    lifecycle.move(
        ORDER_LIFECYCLE,
        order,
        S.CANCELLED,
        actor=actor,
        note=reason,
        kind=kind,
        changes={"cancel_reason": reason},
    )
    _release_stock(order)
    return order


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason.", code=ProcurementErrorCode.REQUIRED, field="reason")
    return reason


@transaction.atomic
def order_confirm(*, acting_user: Any, order_id: int | None) -> Order:
    order = order_for(acting_user, order_id, roles=POLICIES["orderConfirm"])
    lifecycle.move(ORDER_LIFECYCLE, order, S.CONFIRMED, actor=acting_user)
    notifications.order_moved(order)
    return order


@transaction.atomic
def order_reject(*, acting_user: Any, order_id: int | None, reason: str) -> Order:
    """The supplier declines a placed order; its stock is released."""
    order = order_for(acting_user, order_id, roles=POLICIES["orderReject"])
    return _cancel(order, actor=acting_user, reason=_require_reason(reason), kind="rejected")


@transaction.atomic
def order_cancel(*, acting_user: Any, order_id: int | None, reason: str = "") -> Order:
    """The buying agency cancels an order the supplier has not confirmed yet."""
    order = order_for(acting_user, order_id, roles=POLICIES["orderCancel"])
    return _cancel(order, actor=acting_user, reason=(reason or "").strip(), kind="cancelled")


@transaction.atomic
def order_ship(*, acting_user: Any, order_id: int | None, tracking_number: str) -> Order:
    """Ship everything not shipped yet in one parcel (a shipment without a named carrier); the
    order becomes SHIPPED. `shipmentCreate` ships in several parcels."""
    from procurement.services import shipments

    order = order_for(acting_user, order_id, roles=POLICIES["orderShip"])
    shipments.ship_the_rest(order, actor=acting_user, tracking_number=tracking_number)
    return order


@dataclass(frozen=True)
class LineLimit:
    most: int
    name: str
    note: str = ""


def checked_quantities(
    items: list[tuple[int | None, int]],
    limits: dict[int, LineLimit],
    *,
    field: str,
    verb: str,
    least: int = 0,
) -> dict[int, int]:
    """Line id → units for the (line id, units) `items`, each line named once and its units
    within `least`..its limit; the error names the input at fault (`lines.N.<field>`)."""
    given: dict[int, int] = {}
    for index, (line_id, units) in enumerate(items):
        limit = limits.get(line_id)
        if limit is None or line_id in given:
            raise DomainError(
                "No such line here (or it is named twice).",
                code=ProcurementErrorCode.NOT_FOUND,
                field=f"lines.{index}.lineId",
            )
        if not least <= units <= limit.most:
            raise DomainError(
                f"{verb} from {least} to {limit.most} of {limit.name}{limit.note}.",
                code=ProcurementErrorCode.INVALID_QUANTITY,
                field=f"lines.{index}.{field}",
            )
        given[line_id] = units
    return given


@dataclass(frozen=True)
class AcceptedLine:
    line_id: int | None
    accepted_quantity: int


@transaction.atomic
def order_accept(*, acting_user: Any, order_id: int | None, lines: list[AcceptedLine]) -> Order:
    """验收: the agency accepts what arrived, line by line (lines not named are accepted in
    full). Rejected units go back to stock; the accepted value is what will be paid."""
    order = order_for(acting_user, order_id, roles=POLICIES["orderAccept"])
    if order.status != S.SHIPPED:
        raise InvalidTransition(
            f"Only a SHIPPED order can be accepted; this one is {order.status}.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )
    order_lines = {line.pk: line for line in order.lines.all()}
    given = checked_quantities(
        [(item.line_id, item.accepted_quantity) for item in lines],
        {pk: LineLimit(line.quantity, line.product_name) for pk, line in order_lines.items()},
        field="acceptedQuantity",
        verb="Accept",
    )
    accepted = {line.pk: given.get(line.pk, line.quantity) for line in order_lines.values()}
    from procurement.services import shipments

    # An order shipped in parcels: the parcels take the accepted units too (or, when some were
    # already accepted one by one, the rest must be too: shipmentAccept).
    shipments.accept_all_shipments(order, accepted, actor=acting_user)
    return accept_lines(order, accepted, actor=acting_user)


def accept_lines(order: Order, accepted: dict[int, int], *, actor: Any) -> Order:
    """The order becomes ACCEPTED with `accepted` units per line (line id → units): its
    accepted value is what will be paid, its payment term starts, and rejected units go back
    to stock. The caller holds the order's lock and checked the quantities."""
    order_lines = list(order.lines.all())
    for line in order_lines:
        line.accepted_quantity = accepted[line.pk]
    OrderLine.objects.bulk_update(order_lines, ["accepted_quantity"])
    order.accepted_value = quantize_cny(
        sum((line.unit_price * line.accepted_quantity for line in order_lines), Decimal(0))
    )
    order.save(update_fields=["accepted_value"])
    partial = any(line.accepted_quantity < line.quantity for line in order_lines)
    lifecycle.move(
        ORDER_LIFECYCLE, order, S.ACCEPTED, actor=actor, note="partial" if partial else ""
    )
    payment_terms.set_due_date(order)
    _release_stock(order, accepted_only=True)
    notifications.order_moved(order)
    return order


@transaction.atomic
def order_invoice_attach(
    *, acting_user: Any, order_id: int | None, number: str, seller_credit_code: str, amount: Any
) -> Order:
    """The supplier attaches its invoice (发票) for the accepted goods. One invoice belongs to
    one order, so a purchase can never be counted twice."""
    order = order_for(acting_user, order_id, roles=POLICIES["orderInvoiceAttach"])
    if order.status not in INVOICEABLE or order.invoice_number:
        raise InvalidTransition(
            "An invoice is attached once, after acceptance.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )
    number = (number or "").strip()
    if not number:
        raise DomainError(
            "The invoice number is required.", code=ProcurementErrorCode.REQUIRED, field="number"
        )
    code = validation.credit_code(
        seller_credit_code,
        field="sellerCreditCode",
        code=ProcurementErrorCode.INVALID_CREDIT_CODE,
    )
    if code != order.supplier.credit_code:
        raise DomainError(
            "The seller on the invoice must be the order's supplier.",
            code=ProcurementErrorCode.INVOICE_MISMATCH,
            field="sellerCreditCode",
        )
    amount = validation.money(
        amount,
        column=validation.column(Order, "invoice_amount"),
        field="amount",
        code=ProcurementErrorCode.INVALID_AMOUNT,
    )
    if amount != order.accepted_value:
        raise DomainError(
            f"The invoice amount must equal the accepted value {order.accepted_value}.",
            code=ProcurementErrorCode.INVOICE_MISMATCH,
            field="amount",
        )
    from procurement.services.contributions import invoice_already_counted

    if invoice_already_counted(code, number):
        raise DomainError(
            "This invoice is already counted (another order or an import).",
            code=ProcurementErrorCode.INVOICE_TAKEN,
            field="number",
        )
    order.invoice_number, order.invoice_seller_credit_code = number, code
    order.invoice_amount = order.accepted_value
    try:
        with transaction.atomic():
            order.save(
                update_fields=["invoice_number", "invoice_seller_credit_code", "invoice_amount"]
            )
    except IntegrityError as error:
        raise DomainError(
            "This invoice is already attached to another order.",
            code=ProcurementErrorCode.INVOICE_TAKEN,
            field="number",
        ) from error
    record_order_event(order, kind="invoice", actor=acting_user, note=number)
    audit_record(actor=acting_user, action="order.invoice", target=order, data={"number": number})
    return order


@transaction.atomic
def order_complete(*, acting_user: Any, order_id: int | None) -> Order:
    """Close an accepted order once it is invoiced and paid (the agency or an operator)."""
    order = order_for(acting_user, order_id, roles=POLICIES["orderComplete"])
    if order.status == S.ACCEPTED:
        if not order.invoice_number:
            raise DomainError(
                "The order has no invoice yet.",
                code=ProcurementErrorCode.INVOICE_REQUIRED,
                field="id",
            )
        if order.payment_status == PaymentStatus.UNPAID:
            raise DomainError(
                "The order is not paid yet.", code=ProcurementErrorCode.NOT_PAID, field="id"
            )
    lifecycle.move(ORDER_LIFECYCLE, order, S.COMPLETED, actor=acting_user)
    return order


def cancel_unconfirmed_orders_of(*, supplier: Any, actor: Any, reason: str) -> int:
    """Effect of suspending or exiting a supplier: its orders not yet confirmed are cancelled
    and their stock released; confirmed orders may still be fulfilled. Runs in the caller's
    transaction (registered as a catalog hook)."""
    orders = (
        Order.objects.select_for_update().filter(supplier=supplier, status=S.PLACED).order_by("pk")
    )
    count = 0
    for order in orders:
        _cancel(
            order, actor=actor, reason=f"supplier withdrawn: {reason}", kind="supplier_withdrawn"
        )
        count += 1
    return count
