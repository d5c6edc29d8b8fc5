"""Card payments and refunds settle through the gateway's signed webhooks.

Each event only says which payment intent changed. Its current state (and its refunds, some
perhaps made at the gateway by an operator) is read back from the gateway before the
receiver's transaction opens (`fetch`), then applied under the order's lock, so a late or
repeated event cannot move a payment backwards or book a refund twice."""

from typing import Any

from procurement.models import Payment
from procurement.services.payments import (
    GatewayState,
    apply_gateway_state,
    read_gateway_state,
)
from shop.payments.webhooks import register_webhook_handler

SETTLING_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    # A refund, ours or one made at the gateway (Stripe's dashboard).
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
)


def _payment_intent_id(event: Any) -> str:
    obj = event["data"]["object"]
    if "object" in obj and obj["object"] == "payment_intent":
        return obj["id"] if "id" in obj else ""
    intent = obj["payment_intent"] if "payment_intent" in obj else None
    return intent if isinstance(intent, str) else ""


def read_event_state(event: Any) -> GatewayState | None:
    """None for an intent that pays none of our orders (nothing to read or settle)."""
    intent_id = _payment_intent_id(event)
    if not intent_id or not Payment.objects.filter(gateway_intent_id=intent_id).exists():
        return None
    return read_gateway_state(intent_id)


def settle_payment_intent(event: Any, state: GatewayState | None) -> None:
    if state is not None:
        apply_gateway_state(state)


def register_payment_webhooks() -> None:
    for event_type in SETTLING_EVENTS:
        register_webhook_handler(event_type, settle_payment_intent, fetch=read_event_state)
