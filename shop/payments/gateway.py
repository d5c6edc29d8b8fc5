"""The payment gateway: the only code that talks to Stripe, through the official SDK.

Where requests go is configuration only (docs/payments.md): settings.STRIPE_API_BASE (by
default the stripe-compatible mock this project serves at /stripe-mock) and
settings.STRIPE_SECRET_KEY. Amounts cross this boundary as Decimal CNY; Stripe's integer fen
stay inside. Stripe's exceptions never leave this module: callers get `GatewayError` (or its
subclass `PaymentDeclined`), which are domain errors.

Every payment intent is read with its latest charge expanded, so `amount_refunded` is known
without a second request."""

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import stripe
from django.conf import settings

from shop.core.money import CURRENCY, from_fen, to_fen
from shop.payments.errors import GatewayError, PaymentDeclined, PaymentErrorCode

logger = logging.getLogger(__name__)

STRIPE_CURRENCY = CURRENCY.lower()
# The SDK retries connection errors, 409s and 5xx with the same idempotency key, so a retry
# can never pay twice.
MAX_NETWORK_RETRIES = 2
_EXPAND_INTENT = ["latest_charge"]
_METADATA_VALUE_MAX = 500  # Stripe's limit per metadata value


class PaymentIntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    # Authorise now, take the money later with `capture_payment_intent`.
    MANUAL = "manual"


class CancellationReason(StrEnum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: PaymentIntentStatus
    amount: Decimal
    # Authorised and not yet captured (manual capture).
    amount_capturable: Decimal
    amount_received: Decimal
    amount_refunded: Decimal
    currency: str
    capture_method: str
    # Handed to the payer's browser for client-side confirmation; not a secret to our server.
    client_secret: str
    order_reference: str
    payment_method: str | None
    # Stripe's code of the last failed attempt (e.g. "card_declined"), and the issuer's reason.
    last_error_code: str | None
    last_decline_code: str | None
    # The gateway's message for that attempt, as the payer was told it.
    last_error_message: str | None = None

    @classmethod
    def from_stripe(cls, intent: Any) -> "PaymentIntent":
        """From a Stripe payment intent (as returned by the API or in an event's data)."""
        charge = intent["latest_charge"]
        refunded = charge["amount_refunded"] if isinstance(charge, stripe.StripeObject) else 0
        error = intent["last_payment_error"]
        metadata = intent["metadata"]
        return cls(
            id=intent["id"],
            status=PaymentIntentStatus(intent["status"]),
            amount=from_fen(intent["amount"]),
            amount_capturable=from_fen(intent["amount_capturable"]),
            amount_received=from_fen(intent["amount_received"]),
            amount_refunded=from_fen(refunded),
            currency=str(intent["currency"]).upper(),
            capture_method=intent["capture_method"],
            client_secret=intent["client_secret"],
            order_reference=metadata["order_reference"] if "order_reference" in metadata else "",
            payment_method=_id_of(intent["payment_method"]),
            last_error_code=_field(error, "code"),
            last_decline_code=_field(error, "decline_code"),
            last_error_message=_field(error, "message"),
        )


@dataclass(frozen=True)
class Refund:
    id: str
    payment_intent_id: str
    amount: Decimal
    currency: str
    status: str
    reason: str
    # Our own tags (e.g. which local refund row asked for it); empty for a refund made at the
    # gateway itself (an operator in the Stripe dashboard).
    metadata: dict[str, str]

    @classmethod
    def from_stripe(cls, refund: Any) -> "Refund":
        metadata = refund["metadata"]
        return cls(
            id=refund["id"],
            payment_intent_id=_id_of(refund["payment_intent"]) or "",
            amount=from_fen(refund["amount"]),
            currency=str(refund["currency"]).upper(),
            status=refund["status"],
            reason=metadata["reason"] if "reason" in metadata else "",
            metadata={key: str(value) for key, value in metadata.to_dict().items()},
        )

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def _id_of(value: Any) -> str | None:
    """A field that is an id, or the object itself when expanded."""
    if value is None or isinstance(value, str):
        return value
    return value["id"]


def _field(obj: Any, name: str) -> Any:
    return obj[name] if obj is not None and name in obj else None


@dataclass(frozen=True)
class PaymentConfig:
    """What a browser needs to confirm a card payment itself (as Stripe.js does): public."""

    publishable_key: str
    api_base: str
    currency: str


def payment_config() -> PaymentConfig:
    return PaymentConfig(
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        api_base=settings.STRIPE_API_BASE.rstrip("/"),
        currency=CURRENCY,
    )


@functools.lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base.rstrip("/")},
        max_network_retries=MAX_NETWORK_RETRIES,
    )


def _client() -> stripe.StripeClient:
    # Read settings at each call, so configuration (and tests) can change them.
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


_INVALID_REQUEST_CODES = {
    "resource_missing": PaymentErrorCode.NOT_FOUND,
    "payment_intent_unexpected_state": PaymentErrorCode.INVALID_STATE,
    "charge_not_refundable": PaymentErrorCode.INVALID_STATE,
    "amount_too_large": PaymentErrorCode.AMOUNT_TOO_LARGE,
    "charge_already_refunded": PaymentErrorCode.ALREADY_REFUNDED,
}


def _translate(error: stripe.StripeError) -> GatewayError:
    body = error.json_body["error"] if isinstance(error.json_body, dict) else {}
    body = body if isinstance(body, dict) else {}
    if isinstance(error, stripe.CardError):
        intent = body.get("payment_intent")
        return PaymentDeclined(
            error.user_message or "The card was declined.",
            decline_code=body.get("decline_code"),
            stripe_code=error.code,
            payment_intent_id=intent.get("id") if isinstance(intent, dict) else None,
        )
    if isinstance(error, stripe.IdempotencyError):
        logger.error("Stripe refused a reused idempotency key: %s", error.user_message)
        return GatewayError(
            "This payment request conflicts with an earlier one under the same key.",
            code=PaymentErrorCode.IDEMPOTENCY_CONFLICT,
        )
    if isinstance(error, stripe.InvalidRequestError):
        return GatewayError(
            error.user_message or "The payment service refused the request.",
            code=_INVALID_REQUEST_CODES.get(error.code or "", PaymentErrorCode.INVALID),
            stripe_code=error.code,
            field=body.get("param"),
        )
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        logger.error("Stripe refused our credentials: %s", error.user_message)
        return GatewayError(
            "The payment service is not configured correctly; operators have been alerted.",
            code=PaymentErrorCode.GATEWAY_MISCONFIGURED,
        )
    # Connection failures, rate limits, Stripe's own errors: the SDK has already retried.
    logger.warning("Stripe request failed: %r", error)
    return GatewayError(
        "The payment service is unavailable; try again later.",
        code=PaymentErrorCode.GATEWAY_UNAVAILABLE,
    )


@contextmanager
def _stripe_errors_translated() -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as error:
        raise _translate(error) from error


def _options(idempotency_key: str | None) -> dict[str, str]:
    # Without a key, the SDK generates one per call and reuses it for its own retries.
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


def create_payment_intent(
    *,
    amount: Decimal,
    order_reference: str,
    idempotency_key: str,
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC,
    description: str = "",
    metadata: dict[str, str] | None = None,
) -> PaymentIntent:
    """A payment intent for `amount` CNY, tagged with the order it pays. The same key with the
    same arguments returns the same intent; with other arguments it is refused."""
    if amount <= 0:
        raise GatewayError(
            "The amount to pay must be positive.", code=PaymentErrorCode.INVALID, field="amount"
        )
    params: dict[str, Any] = {
        "amount": to_fen(amount),
        "currency": STRIPE_CURRENCY,
        "capture_method": str(capture_method),
        "payment_method_types": ["card"],
        "metadata": {**(metadata or {}), "order_reference": order_reference},
        "expand": _EXPAND_INTENT,
    }
    if description:
        params["description"] = description
    with _stripe_errors_translated():
        intent = _client().v1.payment_intents.create(params, _options(idempotency_key))
    return PaymentIntent.from_stripe(intent)


def retrieve_payment_intent(payment_intent_id: str) -> PaymentIntent:
    with _stripe_errors_translated():
        intent = _client().v1.payment_intents.retrieve(
            payment_intent_id, {"expand": _EXPAND_INTENT}
        )
    return PaymentIntent.from_stripe(intent)


def _intent_step(
    step: str, payment_intent_id: str, idempotency_key: str | None, **given: Any
) -> PaymentIntent:
    """POST /v1/payment_intents/{id}/{step} (confirm, capture, cancel) with the parameters
    given (None: left out, Stripe's default), the intent expanded; errors translated."""
    params = {name: value for name, value in given.items() if value is not None}
    params["expand"] = _EXPAND_INTENT
    with _stripe_errors_translated():
        intent = getattr(_client().v1.payment_intents, step)(
            payment_intent_id, params, _options(idempotency_key)
        )
    return PaymentIntent.from_stripe(intent)


def confirm_payment_intent(
    payment_intent_id: str, *, payment_method: str, idempotency_key: str | None = None
) -> PaymentIntent:
    """Charge (or, with manual capture, authorise) the card. Raises PaymentDeclined when the
    card is declined; the intent then waits for another payment method."""
    return _intent_step(
        "confirm", payment_intent_id, idempotency_key, payment_method=payment_method
    )


def capture_payment_intent(
    payment_intent_id: str, *, amount: Decimal | None = None, idempotency_key: str | None = None
) -> PaymentIntent:
    """Take the authorised money: all of it, or `amount` (the rest is released)."""
    to_capture = None if amount is None else to_fen(amount)
    return _intent_step("capture", payment_intent_id, idempotency_key, amount_to_capture=to_capture)


def cancel_payment_intent(
    payment_intent_id: str,
    *,
    reason: CancellationReason | None = None,
    idempotency_key: str | None = None,
) -> PaymentIntent:
    """Cancel an unpaid or authorised-only intent (an authorisation is released)."""
    reason_text = None if reason is None else str(reason)
    return _intent_step(
        "cancel", payment_intent_id, idempotency_key, cancellation_reason=reason_text
    )


def refund_payment(
    *,
    payment_intent_id: str,
    amount: Decimal | None,
    idempotency_key: str,
    reason: str = "",
    metadata: dict[str, str] | None = None,
) -> Refund:
    """Refund `amount` CNY of a captured payment, or all that is left when `amount` is None.
    More than is left is refused (AMOUNT_TOO_LARGE), as is anything once all is refunded
    (ALREADY_REFUNDED). Our free-text `reason` travels in metadata: Stripe's own `reason` only
    knows three fixed values."""
    params: dict[str, Any] = {"payment_intent": payment_intent_id}
    if amount is not None:
        if amount <= 0:
            raise GatewayError(
                "The amount to refund must be positive.",
                code=PaymentErrorCode.INVALID,
                field="amount",
            )
        params["amount"] = to_fen(amount)
    tags = dict(metadata or {})
    if reason:
        tags["reason"] = reason[:_METADATA_VALUE_MAX]
    if tags:
        params["metadata"] = tags
    with _stripe_errors_translated():
        refund = _client().v1.refunds.create(params, _options(idempotency_key))
    return Refund.from_stripe(refund)


def list_refunds(payment_intent_id: str) -> list[Refund]:
    """Every refund of a payment intent, whoever made it (our calls or the gateway's
    dashboard), oldest first."""
    refunds: list[Refund] = []
    with _stripe_errors_translated():
        page = _client().v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
        for refund in page.auto_paging_iter():
            refunds.append(Refund.from_stripe(refund))
    return refunds[::-1]  # Stripe lists newest first


def retrieve_refund(refund_id: str) -> Refund:
    with _stripe_errors_translated():
        refund = _client().v1.refunds.retrieve(refund_id)
    return Refund.from_stripe(refund)
