"""Paying for accepted goods (card through the gateway, or bank transfer) and refunds.

Card payments settle when the gateway says so: either at once (when the client confirms with a
payment method in the same call) or through the signed webhook. Both paths go through
`payment_settle_from_gateway`, which re-reads the payment intent, so events arriving twice or
out of order leave one correct state.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from procurement.errors import ProcurementErrorCode
from procurement.models import (
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentState,
    PaymentStatus,
    Refund,
)
from procurement.services.orders import order_for
from shop.accounts.models import Role
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, InvalidTransition, NotFound
from shop.core.money import quantize_cny
from shop.payments import gateway
from shop.payments.errors import GatewayError, PaymentDeclined


def _payable(order: Order) -> Decimal:
    if order.status not in (OrderStatus.ACCEPTED, OrderStatus.COMPLETED):
        raise InvalidTransition(
            "Institutions pay the accepted value after acceptance.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="orderId",
        )
    if order.payment_status != PaymentStatus.UNPAID:
        raise DomainError(
            "The order is already paid.", code=ProcurementErrorCode.ALREADY_PAID, field="orderId"
        )
    return order.accepted_value


def _gateway_error(error: GatewayError) -> DomainError:
    code = (
        ProcurementErrorCode.PAYMENT_DECLINED
        if isinstance(error, PaymentDeclined)
        else ProcurementErrorCode.GATEWAY_ERROR
    )
    return DomainError(
        error.message,
        code=code,
        field="paymentMethod" if isinstance(error, PaymentDeclined) else None,
    )


def _mark_paid(order: Order, payment: Payment, *, actor: Any, note: str) -> None:
    payment.state = PaymentState.SUCCEEDED
    payment.succeeded_at = timezone.now()
    payment.save(update_fields=["state", "succeeded_at", "transfer_reference"])
    order.payment_status = PaymentStatus.PAID
    order.paid_amount = payment.amount
    order.paid_at = payment.succeeded_at
    order.save(update_fields=["payment_status", "paid_amount", "paid_at"])
    OrderEvent.objects.create(
        order=order,
        kind="paid",
        actor=actor if actor and actor.is_authenticated else None,
        note=note,
    )
    audit_record(
        actor=actor,
        action="order.paid",
        target=order,
        data={"method": payment.method, "amount": str(payment.amount)},
    )
    from procurement import ledger

    ledger.order_paid_or_accepted(order)


@transaction.atomic
def payment_create(
    *, acting_user: Any, order_id: int | None, method: str, payment_method: str | None = None
) -> Payment:
    """Start paying an accepted order. CARD creates a payment intent (confirmed at once when a
    payment method is given); BANK_TRANSFER waits for an operator to record the transfer."""
    order = order_for(acting_user, order_id, roles=(Role.AGENCY,))
    amount = _payable(order)
    if method not in PaymentMethod.values:
        raise DomainError(
            "Unknown payment method.", code=ProcurementErrorCode.INVALID, field="method"
        )
    attempt = order.payments.count() + 1
    payment = Payment.objects.create(order=order, method=method, amount=amount)
    if method == PaymentMethod.BANK_TRANSFER:
        OrderEvent.objects.create(
            order=order, kind="payment_started", actor=acting_user, note=method
        )
        return payment
    try:
        intent = gateway.create_payment_intent(
            amount=amount,
            order_reference=order.number,
            idempotency_key=f"order-{order.pk}-payment-{attempt}",
            description=f"{order.agency_name} · {order.number}",
        )
        payment.gateway_intent_id, payment.client_secret = intent.id, intent.client_secret or ""
        payment.save(update_fields=["gateway_intent_id", "client_secret"])
        if payment_method:
            intent = gateway.confirm_payment_intent(
                intent.id,
                payment_method=payment_method,
                idempotency_key=f"order-{order.pk}-confirm-{attempt}",
            )
    except PaymentDeclined as error:
        payment.state, payment.failure_message = PaymentState.FAILED, error.message
        payment.save(update_fields=["state", "failure_message"])
        OrderEvent.objects.create(
            order=order, kind="payment_failed", actor=acting_user, note=error.message
        )
        return payment
    except GatewayError as error:
        raise _gateway_error(error) from error
    OrderEvent.objects.create(order=order, kind="payment_started", actor=acting_user, note=method)
    if intent.status == gateway.PaymentIntentStatus.SUCCEEDED:
        _mark_paid(order, payment, actor=acting_user, note=intent.id)
    return payment


@transaction.atomic
def payment_settle_from_gateway(*, payment_intent_id: str) -> Payment | None:
    """Bring a card payment in line with the gateway (called by the webhook handlers)."""
    payment = (
        Payment.objects.select_for_update().filter(gateway_intent_id=payment_intent_id).first()
    )
    if payment is None:
        return None
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    if payment.state != PaymentState.PENDING:
        return payment
    intent = gateway.retrieve_payment_intent(payment_intent_id)
    if (
        intent.status == gateway.PaymentIntentStatus.SUCCEEDED
        and order.payment_status == PaymentStatus.UNPAID
    ):
        _mark_paid(order, payment, actor=None, note=intent.id)
    elif intent.status == gateway.PaymentIntentStatus.CANCELED:
        payment.state = PaymentState.CANCELLED
        payment.save(update_fields=["state"])
    return payment


@transaction.atomic
def payment_record_transfer(*, acting_user: Any, order_id: int | None, reference: str) -> Payment:
    """An operator records a bank transfer (对公转账) that arrived, with its bank reference."""
    order = order_for(acting_user, order_id, roles=(Role.OPERATOR,))
    amount = _payable(order)
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(
            "The transfer reference is required.",
            code=ProcurementErrorCode.REQUIRED,
            field="reference",
        )
    payment = (
        order.payments.select_for_update()
        .filter(method=PaymentMethod.BANK_TRANSFER, state=PaymentState.PENDING)
        .first()
    ) or Payment(order=order, method=PaymentMethod.BANK_TRANSFER, amount=amount)
    payment.transfer_reference = reference
    payment.amount = amount
    payment.save()
    _mark_paid(order, payment, actor=acting_user, note=reference)
    return payment


def _refund_amount(value: Any, order: Order) -> Decimal:
    amount = validation.money(
        value,
        column=validation.column(Order, "refunded_amount"),
        field="amount",
        code=ProcurementErrorCode.INVALID_AMOUNT,
    )
    left = order.paid_amount - order.refunded_amount
    if amount > left:
        raise DomainError(
            f"At most {left} can still be refunded.",
            code=ProcurementErrorCode.REFUND_TOO_LARGE,
            field="amount",
        )
    return quantize_cny(amount)


@transaction.atomic
def order_refund(*, acting_user: Any, order_id: int | None, amount: Any, reason: str) -> Refund:
    """Refund part or all of what was paid (an operator, or the order's supplier). Card refunds
    go back through the gateway; transfer refunds are recorded as paid back offline."""
    order = order_for(acting_user, order_id, roles=(Role.OPERATOR, Role.SUPPLIER))
    if order.payment_status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
        raise DomainError(
            "Only a paid order can be refunded.",
            code=ProcurementErrorCode.NOT_PAID,
            field="orderId",
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason.", code=ProcurementErrorCode.REQUIRED, field="reason")
    value = _refund_amount(amount, order)
    payment = order.payments.filter(state=PaymentState.SUCCEEDED).order_by("-id").first()
    if payment is None:
        raise NotFound("The order has no successful payment.", field="orderId")
    refund = Refund(
        order=order, payment=payment, amount=value, reason=reason, created_by=acting_user
    )
    if payment.method == PaymentMethod.CARD:
        try:
            result = gateway.refund_payment(
                payment_intent_id=payment.gateway_intent_id,
                amount=value,
                idempotency_key=f"order-{order.pk}-refund-{order.refunds.count() + 1}",
                reason=reason,
            )
        except GatewayError as error:
            raise _gateway_error(error) from error
        refund.gateway_refund_id = result.id
    refund.save()
    order.refunded_amount += value
    order.payment_status = (
        PaymentStatus.REFUNDED
        if order.refunded_amount == order.paid_amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    order.save(update_fields=["refunded_amount", "payment_status"])
    OrderEvent.objects.create(
        order=order, kind="refund", actor=acting_user, note=f"{value} {reason}"
    )
    audit_record(
        actor=acting_user,
        action="order.refund",
        target=order,
        reason=reason,
        data={"amount": str(value)},
    )
    from procurement import ledger

    ledger.order_refunded(order, refund)
    return refund
