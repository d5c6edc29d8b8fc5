import json
import time

from django.conf import settings
from django.test import Client

from shop.payments.mock.delivery import sign_payload


def event_payload(
    event_type: str = "payment_intent.succeeded",
    *,
    event_id: str = "evt_test_0001",
    object_id: str = "pi_test_0001",
    created: int = 1_767_225_600,
) -> str:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "data": {"object": {"id": object_id, "object": "payment_intent"}},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    )


def post_webhook(
    payload: str, *, secret: str | None = None, timestamp: int | None = None
) -> tuple[int, dict]:
    """POST `payload` to the receiver, signed as Stripe signs (by default with our secret, now)."""
    signature = sign_payload(
        payload,
        secret if secret is not None else settings.STRIPE_WEBHOOK_SECRET,
        timestamp if timestamp is not None else int(time.time()),
    )
    response = Client().post(
        "/webhooks/stripe/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    return response.status_code, response.json()
