"""Paying for accepted goods (card through the gateway, or bank transfer) and refunds.

No database transaction is ever open while the gateway is called: a slow gateway would hold
the order's row lock (on SQLite, the whole database's write lock) for as long as it takes.
Each card payment and card refund goes in three steps (docs/payments.md, "Three steps"):

1. record the attempt (a PENDING `Payment` or `Refund` with its idempotency key) and commit;
2. call the gateway with that key, holding no lock;
3. apply the outcome in a short transaction under the order's row lock.

A crash between two steps leaves a PENDING row. The signed webhook (`procurement/webhooks.py`)
and `manage.py payments_reconcile` settle it by asking the gateway again, with the same key
where a request may have to be repeated, so nothing is lost and nothing is charged or refunded
twice. Applying an outcome is idempotent: it only moves a row forward (PENDING to its end
state), so the direct answer, the webhook and reconcile may all apply the same outcome.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from procurement.access import POLICIES, order_for
from procurement.errors import ProcurementErrorCode
from procurement.models import (
    Order,
    Payment,
    PaymentMethod,
    PaymentState,
    PaymentStatus,
    Refund,
    RefundState,
)
from procurement.models.orders import PAYABLE
from procurement.services import payment_terms
from procurement.services.orders import record_order_event
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, InvalidTransition, NotFound
from shop.core.money import quantize_cny
from shop.payments import gateway
from shop.payments.errors import GatewayError, PaymentDeclined, PaymentErrorCode

logger = logging.getLogger(__name__)

# Metadata keys tying a gateway object to our row, so a webhook or reconcile that sees the
# object before our own call's answer is applied settles that row instead of booking another.
PAYMENT_TAG = "shanhai_payment"
REFUND_TAG = "shanhai_refund"
# Refunds made at the gateway (by an operator in the Stripe dashboard) are booked with this.
GATEWAY_REFUND_REASON = "Refunded at the payment gateway"


class PaymentFailed(DomainError):
    """The gateway declined the card: the attempt is kept as FAILED (committed), and the
    mutation returns it along with the error."""

    def __init__(self, payment: Payment, message: str):
        super().__init__(message, code=ProcurementErrorCode.PAYMENT_DECLINED, field="paymentMethod")
        self.payment = payment


def _payable(order: Order) -> Decimal:
    if order.status not in PAYABLE:
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


def _outcome_unknown(error: GatewayError) -> bool:
    """No answer (network, timeout, the gateway's own failure): the request may or may not
    have taken effect, so the attempt stays PENDING for the webhook or reconcile."""
    return error.code == PaymentErrorCode.GATEWAY_UNAVAILABLE


def _gateway_error(error: GatewayError) -> DomainError:
    code = (
        ProcurementErrorCode.PAYMENT_DECLINED
        if isinstance(error, PaymentDeclined)
        else ProcurementErrorCode.GATEWAY_ERROR
    )
    message = error.message
    if _outcome_unknown(error):
        message += " The attempt is kept and settled as soon as the payment service answers."
    return DomainError(
        message,
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
    order.paid_on_time = payment_terms.paid_on_time(order, order.paid_at)
    order.save(update_fields=["payment_status", "paid_amount", "paid_at", "paid_on_time"])
    record_order_event(order, kind="paid", actor=actor, note=note)
    audit_record(
        actor=actor,
        action="order.paid",
        target=order,
        data={"method": payment.method, "amount": str(payment.amount)},
    )
    from procurement import ledger

    ledger.book_paid_order(order)


# --- paying ------------------------------------------------------------------------------------


def payment_create(
    *, acting_user: Any, order_id: int | None, method: str, payment_method: str | None = None
) -> Payment:
    """Start paying an accepted order. CARD creates a payment intent (confirmed at once when a
    payment method is given); BANK_TRANSFER waits for an operator to record the transfer.

    A declined card raises `PaymentFailed` after the FAILED attempt is committed. A card
    attempt still PENDING (e.g. its gateway call went unanswered) is reused by the next call,
    with the same idempotency key, so paying again never creates a second charge."""
    payment = _record_payment(acting_user=acting_user, order_id=order_id, method=method)
    if method == PaymentMethod.BANK_TRANSFER:
        return payment
    intent_id = payment.gateway_intent_id or _create_intent(payment)
    if not payment_method:
        return Payment.objects.select_related("order").get(pk=payment.pk)
    try:
        intent = gateway.confirm_payment_intent(intent_id, payment_method=payment_method)
    except PaymentDeclined as error:
        payment = _apply_intent(payment.pk, None, declined=error.message, actor=acting_user)
        if payment.state == PaymentState.FAILED:
            raise PaymentFailed(payment, error.message) from error
        return payment
    except GatewayError as error:
        # E.g. a parallel request confirmed the intent first, or the answer was lost: the
        # intent's current state decides.
        intent = _read_intent(intent_id)
        payment = _apply_intent(payment.pk, intent, actor=acting_user) if intent else payment
        if payment.state == PaymentState.PENDING:
            raise _gateway_error(error) from error
        return payment
    return _apply_intent(payment.pk, intent, actor=acting_user)


@transaction.atomic
def _record_payment(*, acting_user: Any, order_id: int | None, method: str) -> Payment:
    """Step 1: the attempt, committed before any gateway call."""
    order = order_for(acting_user, order_id, roles=POLICIES["paymentCreate"])
    amount = _payable(order)
    if method not in PaymentMethod.values:
        raise DomainError(
            "Unknown payment method.", code=ProcurementErrorCode.INVALID, field="method"
        )
    if method == PaymentMethod.CARD:
        pending = (
            order.payments.filter(method=method, state=PaymentState.PENDING, amount=amount)
            .order_by("-id")
            .first()
        )
        if pending is not None:
            pending.order = order
            return pending
    attempt = order.payments.count() + 1
    payment = Payment.objects.create(
        order=order,
        method=method,
        amount=amount,
        idempotency_key=f"order-{order.pk}-payment-{attempt}"
        if method == PaymentMethod.CARD
        else "",
    )
    record_order_event(order, kind="payment_started", actor=acting_user, note=method)
    return payment


def _create_intent(payment: Payment) -> str:
    """Step 2 for a new attempt: the payment intent, under the attempt's idempotency key (a
    repeat after a crash returns the same intent). Its id is stored at once, so the webhook
    can find the attempt."""
    order = payment.order
    try:
        intent = gateway.create_payment_intent(
            amount=payment.amount,
            order_reference=order.number,
            idempotency_key=payment.idempotency_key,
            description=f"{order.agency_name} · {order.number}",
            metadata={PAYMENT_TAG: str(payment.pk)},
        )
    except GatewayError as error:
        raise _gateway_error(error) from error
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk, gateway_intent_id="").update(
            gateway_intent_id=intent.id, client_secret=intent.client_secret or ""
        )
    return intent.id


def _read_intent(intent_id: str) -> gateway.PaymentIntent | None:
    try:
        return gateway.retrieve_payment_intent(intent_id)
    except GatewayError:
        return None


def _decline_message(intent: gateway.PaymentIntent) -> str:
    # The same words whichever path (direct answer, webhook, reconcile) records the failure.
    if intent.last_error_message:
        return intent.last_error_message
    reason = intent.last_decline_code or intent.last_error_code
    return f"The card was declined ({reason})."


def _apply_intent(
    payment_id: int,
    intent: gateway.PaymentIntent | None,
    *,
    declined: str = "",
    actor: Any = None,
) -> Payment:
    """Step 3: bring the attempt in line with the gateway, under the order's row lock. Only
    moves forward; the gateway's "succeeded" wins even over an attempt marked FAILED (a card
    confirmed again client-side after a decline)."""
    with transaction.atomic():
        order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        payment.order = order
        succeeded = intent is not None and intent.status == gateway.PaymentIntentStatus.SUCCEEDED
        if succeeded and payment.state in (PaymentState.PENDING, PaymentState.FAILED):
            if order.payment_status == PaymentStatus.UNPAID:
                _mark_paid(order, payment, actor=actor, note=intent.id)
            else:
                logger.error(
                    "Order %s was already paid when payment %s succeeded: refund it at the gateway",
                    order.number,
                    payment.pk,
                )
                payment.state, payment.succeeded_at = PaymentState.SUCCEEDED, timezone.now()
                payment.save(update_fields=["state", "succeeded_at"])
        elif (
            payment.state == PaymentState.PENDING
            and intent is not None
            and (intent.status == gateway.PaymentIntentStatus.CANCELED)
        ):
            payment.state = PaymentState.CANCELLED
            payment.save(update_fields=["state"])
        elif payment.state == PaymentState.PENDING and (
            declined
            or (
                intent is not None
                and intent.status == gateway.PaymentIntentStatus.REQUIRES_PAYMENT_METHOD
                and intent.last_error_code
            )
        ):
            payment.state = PaymentState.FAILED
            payment.failure_message = declined or _decline_message(intent)
            payment.save(update_fields=["state", "failure_message"])
            record_order_event(
                order, kind="payment_failed", actor=actor, note=payment.failure_message
            )
        return payment


@transaction.atomic
def payment_record_transfer(*, acting_user: Any, order_id: int | None, reference: str) -> Payment:
    """An operator records a bank transfer (对公转账) that arrived, with its bank reference."""
    order = order_for(acting_user, order_id, roles=POLICIES["paymentRecordTransfer"])
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


# --- refunding ---------------------------------------------------------------------------------


def _refund_amount(value: Any, order: Order) -> Decimal:
    amount = validation.money(
        value,
        column=validation.column(Order, "refunded_amount"),
        field="amount",
        code=ProcurementErrorCode.INVALID_AMOUNT,
    )
    in_flight = order.refunds.filter(state=RefundState.PENDING).aggregate(total=Sum("amount"))
    left = order.paid_amount - order.refunded_amount - (in_flight["total"] or 0)
    if amount > left:
        raise DomainError(
            f"At most {left} can still be refunded.",
            code=ProcurementErrorCode.REFUND_TOO_LARGE,
            field="amount",
        )
    return quantize_cny(amount)


def order_refund(*, acting_user: Any, order_id: int | None, amount: Any, reason: str) -> Refund:
    """Refund part or all of what was paid (an operator, or the order's supplier). Card refunds
    go back through the gateway in three steps; transfer refunds are recorded as paid back
    offline, at once. A refund whose gateway call went unanswered stays PENDING (counted
    against what is left to refund) until the webhook or reconcile settles it."""
    refund = _record_refund(
        acting_user=acting_user, order_id=order_id, amount=amount, reason=reason
    )
    if refund.state != RefundState.PENDING:
        return refund
    try:
        result = _send_refund(refund)
    except GatewayError as error:
        if not _outcome_unknown(error):
            _refund_failed(refund.pk, error.message)
        raise _gateway_error(error) from error
    return _refund_succeeded(refund.pk, result.id, actor=acting_user)


@transaction.atomic
def _record_refund(*, acting_user: Any, order_id: int | None, amount: Any, reason: str) -> Refund:
    order = order_for(acting_user, order_id, roles=POLICIES["orderRefund"])
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
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        amount=value,
        reason=reason,
        created_by=acting_user,
        state=RefundState.PENDING,
        idempotency_key=f"order-{order.pk}-refund-{order.refunds.count() + 1}",
    )
    if payment.method != PaymentMethod.CARD:
        _book_refund(order, refund, actor=acting_user)
    return refund


def _send_refund(refund: Refund) -> gateway.Refund:
    return gateway.refund_payment(
        payment_intent_id=refund.payment.gateway_intent_id,
        amount=refund.amount,
        idempotency_key=refund.idempotency_key,
        reason=refund.reason,
        metadata={REFUND_TAG: str(refund.pk)},
    )


def _book_refund(order: Order, refund: Refund, *, actor: Any) -> None:
    """The refund took effect: the order's totals, its history, the audit trail and the
    ledger's negative entries (once: the caller holds the order's lock and checked the
    refund was not booked yet)."""
    refund.state = RefundState.SUCCEEDED
    refund.save(update_fields=["state", "gateway_refund_id"])
    order.refunded_amount += refund.amount
    order.payment_status = (
        PaymentStatus.REFUNDED
        if order.refunded_amount >= order.paid_amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    order.save(update_fields=["refunded_amount", "payment_status"])
    actor = actor if actor and actor.is_authenticated else None
    record_order_event(order, kind="refund", actor=actor, note=f"{refund.amount} {refund.reason}")
    audit_record(
        actor=actor,
        action="order.refund",
        target=order,
        reason=refund.reason,
        data={"amount": str(refund.amount), "gatewayRefundId": refund.gateway_refund_id},
    )
    from procurement import ledger

    ledger.order_refunded(order, refund)


def _locked_refund(refund_id: int) -> tuple[Order, Refund]:
    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    refund.order = order
    return order, refund


def _refund_succeeded(refund_id: int, gateway_refund_id: str, *, actor: Any = None) -> Refund:
    """Step 3 of a refund: book it, unless the webhook or reconcile already did."""
    with transaction.atomic():
        order, refund = _locked_refund(refund_id)
        if refund.state != RefundState.SUCCEEDED:
            refund.gateway_refund_id = gateway_refund_id
            _book_refund(order, refund, actor=actor)
        return refund


def _refund_failed(refund_id: int, message: str) -> None:
    with transaction.atomic():
        _order, refund = _locked_refund(refund_id)
        if refund.state == RefundState.PENDING:
            refund.state, refund.failure_message = RefundState.FAILED, message
            refund.save(update_fields=["state", "failure_message"])


def _book_gateway_refund(payment: Payment, found: gateway.Refund) -> bool:
    """A refund made at the gateway itself (e.g. in the Stripe dashboard): booked once, by
    its gateway id. Returns whether it was new."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if Refund.objects.filter(gateway_refund_id=found.id).exists():
            return False
        reason = (
            f"{GATEWAY_REFUND_REASON}: {found.reason}" if found.reason else GATEWAY_REFUND_REASON
        )
        refund = Refund.objects.create(
            order=order,
            payment=payment,
            amount=found.amount,
            reason=reason,
            state=RefundState.PENDING,
            gateway_refund_id=found.id,
        )
        _book_refund(order, refund, actor=None)
        logger.info("Booked refund %s made at the gateway for %s", found.id, order.number)
        return True


# --- settling with the gateway (webhook and reconcile) ---------------------------------------


class GatewayState:
    """What the gateway says about one payment intent and its refunds, read with no
    transaction open, then applied under the order's lock by `apply_gateway_state`."""

    def __init__(self, intent: gateway.PaymentIntent, refunds: list[gateway.Refund]):
        self.intent = intent
        self.refunds = refunds


def read_gateway_state(payment_intent_id: str) -> GatewayState:
    """Raises GatewayError when the gateway cannot be read (the webhook then answers 500 and
    is delivered again)."""
    intent = gateway.retrieve_payment_intent(payment_intent_id)
    refunds = gateway.list_refunds(payment_intent_id) if intent.amount_refunded else []
    return GatewayState(intent, refunds)


def apply_gateway_state(state: GatewayState) -> Payment | None:
    """Settle the payment of this intent and book its refunds; idempotent (replayed events and
    repeated reconcile runs change nothing)."""
    payment = Payment.objects.filter(gateway_intent_id=state.intent.id).first()
    if payment is None:
        return None
    payment = _apply_intent(payment.pk, state.intent)
    for found in state.refunds:
        _apply_gateway_refund(payment, found)
    return payment


def _apply_gateway_refund(payment: Payment, found: gateway.Refund) -> None:
    tag = found.metadata.get(REFUND_TAG, "")
    ours = Refund.objects.filter(pk=int(tag), payment=payment).first() if tag.isdigit() else None
    if ours is not None:
        if found.succeeded:
            _refund_succeeded(ours.pk, found.id)
        elif found.status in ("failed", "canceled"):
            _refund_failed(ours.pk, f"The payment service reports the refund {found.status}.")
    elif found.succeeded and payment.state == PaymentState.SUCCEEDED:
        _book_gateway_refund(payment, found)


def payment_settle_from_gateway(*, payment_intent_id: str) -> Payment | None:
    """Bring a card payment and its refunds in line with the gateway."""
    return apply_gateway_state(read_gateway_state(payment_intent_id))


@dataclass
class ReconcileReport:
    payments_checked: int = 0
    refunds_checked: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def payments_reconcile(
    *,
    abandon_after: timedelta = timedelta(hours=24),
    refunds_within: timedelta = timedelta(days=90),
) -> ReconcileReport:
    """Settle whatever is left PENDING (the worker's periodic job; the webhook
    normally gets there first):

    - card payments: the intent is created under the attempt's own key if the crash came
      before it was, then its state is applied; an intent nobody confirmed within
      `abandon_after` is cancelled at the gateway;
    - refunds: one the gateway already knows (tagged with our refund) is booked; otherwise it
      is sent again under its own key;
    - card payments that succeeded within `refunds_within`: refunds made at the gateway
      itself are booked.
    Every gateway call runs with no transaction open."""
    report = ReconcileReport()
    for payment in Payment.objects.filter(
        method=PaymentMethod.CARD, state=PaymentState.PENDING
    ).select_related("order"):
        report.payments_checked += 1
        try:
            intent_id = payment.gateway_intent_id or _create_intent(payment)
            state = read_gateway_state(intent_id)
            if (
                state.intent.status
                in (
                    gateway.PaymentIntentStatus.REQUIRES_PAYMENT_METHOD,
                    gateway.PaymentIntentStatus.REQUIRES_CONFIRMATION,
                )
                and payment.created_at < timezone.now() - abandon_after
            ):
                state.intent = gateway.cancel_payment_intent(
                    intent_id, reason=gateway.CancellationReason.ABANDONED
                )
                report.cancelled += 1
            apply_gateway_state(state)
        except (GatewayError, DomainError) as error:
            report.errors.append(f"payment {payment.pk}: {error.message}")
    for refund in Refund.objects.filter(state=RefundState.PENDING).select_related("payment"):
        report.refunds_checked += 1
        try:
            payment_settle_from_gateway(payment_intent_id=refund.payment.gateway_intent_id)
            if Refund.objects.filter(pk=refund.pk, state=RefundState.PENDING).exists():
                result = _send_refund(refund)
                _refund_succeeded(refund.pk, result.id)
        except GatewayError as error:
            if not _outcome_unknown(error):
                _refund_failed(refund.pk, error.message)
            report.errors.append(f"refund {refund.pk}: {error.message}")
    recent = Payment.objects.filter(
        method=PaymentMethod.CARD,
        state=PaymentState.SUCCEEDED,
        succeeded_at__gte=timezone.now() - refunds_within,
    ).exclude(order__payment_status=PaymentStatus.REFUNDED)
    for intent_id in recent.values_list("gateway_intent_id", flat=True):
        report.payments_checked += 1
        try:
            payment_settle_from_gateway(payment_intent_id=intent_id)
        except GatewayError as error:
            report.errors.append(f"intent {intent_id}: {error.message}")
    return report
