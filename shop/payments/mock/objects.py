"""The mock's rows rendered as Stripe API objects (the fields card payments use; Stripe's
others are left out rather than faked)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from shop.payments.mock.models import MockCharge, MockPaymentIntent, MockRefund

CURRENCY_SYMBOLS = {"cny": "¥"}


def timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def format_amount(amount: int, currency: str) -> str:
    """As Stripe writes amounts in messages: `¥12.34`."""
    symbol = CURRENCY_SYMBOLS.get(currency, currency.upper() + " ")
    return f"{symbol}{Decimal(amount) / 100:.2f}"


def payment_intent_object(
    intent: MockPaymentIntent, *, expand: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    charge = intent.latest_charge
    if charge is None:
        latest_charge: Any = None
    elif "latest_charge" in expand:
        latest_charge = charge_object(charge)
    else:
        latest_charge = charge.id
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_capturable": intent.amount_capturable,
        "amount_received": intent.amount_received,
        "canceled_at": timestamp(intent.canceled_at),
        "cancellation_reason": intent.cancellation_reason or None,
        "capture_method": intent.capture_method,
        "client_secret": intent.client_secret,
        "confirmation_method": "automatic",
        "created": timestamp(intent.created),
        "currency": intent.currency,
        "description": intent.description or None,
        "last_payment_error": intent.last_payment_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": intent.metadata,
        "payment_method": intent.payment_method or None,
        "payment_method_types": ["card"],
        "status": intent.status,
    }


def charge_object(charge: MockCharge) -> dict[str, Any]:
    succeeded = charge.status == "succeeded"
    return {
        "id": charge.id,
        "object": "charge",
        "amount": charge.amount,
        "amount_captured": charge.amount_captured,
        "amount_refunded": charge.amount_refunded,
        "captured": charge.captured,
        "created": timestamp(charge.created),
        "currency": charge.currency,
        "failure_code": charge.failure_code or None,
        "failure_message": charge.failure_message or None,
        "livemode": False,
        "metadata": {},
        "outcome": {
            "network_status": "approved_by_network" if succeeded else "declined_by_network",
            "reason": charge.decline_code or None,
            "type": "authorized" if succeeded else "issuer_declined",
        },
        "paid": succeeded,
        "payment_intent": charge.payment_intent_id,
        "payment_method": charge.payment_method,
        "refunded": charge.captured and charge.amount_refunded >= charge.amount_captured,
        "status": charge.status,
    }


def refund_object(refund: MockRefund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "charge": refund.charge_id,
        "created": timestamp(refund.created),
        "currency": refund.currency,
        "metadata": refund.metadata,
        "payment_intent": refund.payment_intent_id,
        "reason": refund.reason or None,
        "status": refund.status,
    }
