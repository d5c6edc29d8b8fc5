"""What the mock does to payment intents and refunds, as Stripe does for test cards.

Each function runs inside the request's transaction (see views) and locks the payment intent
row first, so concurrent requests from several app processes serialise per intent: two refunds
can never together exceed what was captured. A refused request raises StripeApiError before
changing anything; a declined card is not an exception here, because the decline itself is a
change (a failed charge, the intent back to requires_payment_method, an event) that must be
committed and remembered under the idempotency key."""

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from shop.payments.mock.errors import (
    CARD_ERROR,
    StripeApiError,
    doc_url,
    resource_missing,
    unexpected_state,
)
from shop.payments.mock.events import emit
from shop.payments.mock.ids import new_id
from shop.payments.mock.models import (
    CaptureMethod,
    ChargeStatus,
    MockCharge,
    MockPaymentIntent,
    MockRefund,
    PaymentIntentStatus,
)
from shop.payments.mock.objects import (
    charge_object,
    format_amount,
    payment_intent_object,
    refund_object,
)

Status = PaymentIntentStatus


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str


# Stripe's test payment methods (https://docs.stripe.com/testing#declined-payments).
# None: the card is charged.
TEST_PAYMENT_METHODS: dict[str, Decline | None] = {
    "pm_card_visa": None,
    "pm_card_mastercard": None,
    "pm_card_chargeDeclined": Decline(
        "card_declined", "generic_decline", "Your card was declined."
    ),
    "pm_card_chargeDeclinedInsufficientFunds": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedExpiredCard": Decline(
        "expired_card", "expired_card", "Your card has expired."
    ),
}

CONFIRMABLE = [Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION]
CANCELABLE = [Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION, Status.REQUIRES_CAPTURE]
CANCELLATION_REASONS = ["duplicate", "fraudulent", "requested_by_customer", "abandoned"]
REFUND_REASONS = ["duplicate", "fraudulent", "requested_by_customer"]


@dataclass(frozen=True)
class Outcome:
    """A payment intent after an action, and the card error if the card was declined."""

    intent: MockPaymentIntent
    card_error: dict[str, Any] | None = None


def _check_payment_method(payment_method: str) -> None:
    if payment_method not in TEST_PAYMENT_METHODS:
        raise resource_missing("PaymentMethod", payment_method, param="payment_method")


def _locked_intent(intent_id: str) -> MockPaymentIntent:
    """The intent, locked until the transaction ends. Its charge is deliberately not joined
    here: a row read in the same statement as a lock we had to wait for could be stale; read
    after the lock (`intent.latest_charge`), it is current."""
    intent = MockPaymentIntent.objects.select_for_update().filter(pk=intent_id).first()
    if intent is None:
        raise resource_missing("payment_intent", intent_id, param="intent")
    return intent


def payment_intent_create(
    *,
    amount: int,
    currency: str,
    capture_method: str,
    payment_method: str | None,
    description: str,
    metadata: dict[str, str],
    confirm: bool,
) -> Outcome:
    if payment_method:
        _check_payment_method(payment_method)
    elif confirm:
        raise StripeApiError(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    intent_id = new_id("pi")
    intent = MockPaymentIntent.objects.create(
        id=intent_id,
        amount=amount,
        currency=currency,
        capture_method=capture_method,
        client_secret=f"{intent_id}_secret_{new_id('s')[2:]}",
        payment_method=payment_method or "",
        status=Status.REQUIRES_CONFIRMATION if payment_method else Status.REQUIRES_PAYMENT_METHOD,
        description=description,
        metadata=metadata,
    )
    emit("payment_intent.created", payment_intent_object(intent))
    if confirm:
        return payment_intent_confirm(intent_id=intent.id, payment_method=None)
    return Outcome(intent)


def payment_intent_confirm(*, intent_id: str, payment_method: str | None) -> Outcome:
    intent = _locked_intent(intent_id)
    if intent.status not in CONFIRMABLE:
        raise unexpected_state(
            payment_intent_object(intent), action="confirm", done="confirmed", allowed=CONFIRMABLE
        )
    if payment_method:
        _check_payment_method(payment_method)
        intent.payment_method = payment_method
    if not intent.payment_method:
        raise StripeApiError(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    decline = TEST_PAYMENT_METHODS[intent.payment_method]
    automatic = intent.capture_method != CaptureMethod.MANUAL
    charge = MockCharge.objects.create(
        id=new_id("ch"),
        payment_intent=intent,
        amount=intent.amount,
        currency=intent.currency,
        payment_method=intent.payment_method,
        status=ChargeStatus.FAILED if decline else ChargeStatus.SUCCEEDED,
        captured=automatic and not decline,
        amount_captured=intent.amount if automatic and not decline else 0,
        failure_code=decline.code if decline else "",
        failure_message=decline.message if decline else "",
        decline_code=decline.decline_code if decline else "",
    )
    intent.latest_charge = charge
    if decline:
        return _declined(intent, charge, decline)
    intent.last_payment_error = None
    if automatic:
        intent.status = Status.SUCCEEDED
        intent.amount_received = intent.amount
        event_type = "payment_intent.succeeded"
    else:
        intent.status = Status.REQUIRES_CAPTURE
        intent.amount_capturable = intent.amount
        event_type = "payment_intent.amount_capturable_updated"
    intent.save()
    emit(event_type, payment_intent_object(intent))
    return Outcome(intent)


def _declined(intent: MockPaymentIntent, charge: MockCharge, decline: Decline) -> Outcome:
    """As Stripe: the failed attempt is kept in `last_payment_error`, the payment method is
    detached, and the intent waits for another one."""
    error = {
        "type": CARD_ERROR,
        "code": decline.code,
        "decline_code": decline.decline_code,
        "message": decline.message,
        "doc_url": doc_url(decline.code),
        "charge": charge.id,
        "payment_method": {"id": intent.payment_method, "object": "payment_method", "type": "card"},
    }
    intent.last_payment_error = error
    intent.payment_method = ""
    intent.status = Status.REQUIRES_PAYMENT_METHOD
    intent.save()
    emit("payment_intent.payment_failed", payment_intent_object(intent))
    return Outcome(intent, card_error={**error, "payment_intent": payment_intent_object(intent)})


def payment_intent_capture(*, intent_id: str, amount_to_capture: int | None) -> Outcome:
    intent = _locked_intent(intent_id)
    if intent.status != Status.REQUIRES_CAPTURE:
        raise StripeApiError(
            f"This PaymentIntent could not be captured because it has a status of "
            f"{intent.status}. Only a PaymentIntent with one of the following statuses may be "
            f"captured: {Status.REQUIRES_CAPTURE}.",
            code="payment_intent_unexpected_state",
            extra={"payment_intent": payment_intent_object(intent)},
        )
    amount = intent.amount_capturable if amount_to_capture is None else amount_to_capture
    if amount > intent.amount_capturable:
        raise StripeApiError(
            f"The amount to capture ({amount}) must be less than or equal to the amount "
            f"capturable ({intent.amount_capturable}).",
            code="amount_too_large",
            param="amount_to_capture",
        )
    charge = intent.latest_charge
    charge.captured = True
    charge.amount_captured = amount
    charge.save(update_fields=["captured", "amount_captured"])
    # Capturing less releases the rest of the authorisation.
    intent.amount_received = amount
    intent.amount_capturable = 0
    intent.status = Status.SUCCEEDED
    intent.save()
    emit("payment_intent.succeeded", payment_intent_object(intent))
    return Outcome(intent)


def payment_intent_cancel(*, intent_id: str, cancellation_reason: str | None) -> Outcome:
    intent = _locked_intent(intent_id)
    if intent.status not in CANCELABLE:
        raise unexpected_state(
            payment_intent_object(intent), action="cancel", done="canceled", allowed=CANCELABLE
        )
    intent.status = Status.CANCELED
    intent.amount_capturable = 0
    intent.canceled_at = timezone.now()
    intent.cancellation_reason = cancellation_reason or ""
    intent.save()
    emit("payment_intent.canceled", payment_intent_object(intent))
    return Outcome(intent)


def refund_create(
    *,
    payment_intent_id: str | None,
    charge_id: str | None,
    amount: int | None,
    reason: str | None,
    metadata: dict[str, str],
) -> MockRefund:
    """Refund all (no amount) or part of what was captured and not yet refunded.

    Sends `charge.refunded` (the charge with its new `amount_refunded`) and `refund.created`
    (the refund), the two events Stripe sends for a card refund since API version 2024-10-28."""
    if charge_id and not payment_intent_id:
        charge = MockCharge.objects.filter(pk=charge_id).first()
        if charge is None:
            raise resource_missing("charge", charge_id, param="charge")
        payment_intent_id = charge.payment_intent_id
    if not payment_intent_id:
        raise StripeApiError(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
        )
    intent = _locked_intent(payment_intent_id)
    charge = intent.latest_charge
    if charge_id and (charge is None or charge.id != charge_id):
        raise StripeApiError(
            f"Charge {charge_id} does not belong to PaymentIntent {payment_intent_id}.",
            param="charge",
        )
    if intent.status != Status.SUCCEEDED or charge is None:
        raise StripeApiError(
            f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
            code="charge_not_refundable",
            param="payment_intent",
        )
    refundable = charge.amount_captured - charge.amount_refunded
    if refundable == 0:
        raise StripeApiError(
            f"Charge {charge.id} has already been refunded.", code="charge_already_refunded"
        )
    amount = refundable if amount is None else amount
    if amount > refundable:
        raise StripeApiError(
            f"Refund amount ({format_amount(amount, charge.currency)}) is greater than "
            f"unrefunded amount on charge ({format_amount(refundable, charge.currency)})",
            code="amount_too_large",
            param="amount",
        )
    refund = MockRefund.objects.create(
        id=new_id("re"),
        charge=charge,
        payment_intent=intent,
        amount=amount,
        currency=charge.currency,
        reason=reason or "",
        metadata=metadata,
    )
    charge.amount_refunded += amount
    charge.save(update_fields=["amount_refunded"])
    emit("charge.refunded", charge_object(charge))
    emit("refund.created", refund_object(refund))
    return refund
