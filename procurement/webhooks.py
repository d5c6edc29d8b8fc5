"""Card payments settle through the gateway's signed webhooks."""

from typing import Any

from procurement.services.payments import payment_settle_from_gateway
from shop.payments.webhooks import register_webhook_handler

SETTLING_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
)


def settle_payment_intent(event: Any) -> None:
    # The event only says which intent changed; its state is read back from the gateway, so
    # a late or repeated event cannot move a payment backwards.
    payment_settle_from_gateway(payment_intent_id=event["data"]["object"]["id"])


def register_payment_webhooks() -> None:
    for event_type in SETTLING_EVENTS:
        register_webhook_handler(event_type, settle_payment_intent)
