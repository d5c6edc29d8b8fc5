"""The receiver of Stripe's webhooks at /webhooks/stripe/ and the registry of their handlers.

A request is processed only if its `Stripe-Signature` verifies against
settings.STRIPE_WEBHOOK_SECRET within five minutes (forged and stale requests get HTTP 400 and
change nothing). Each event id is then recorded once (`WebhookEvent`); a replayed or re-delivered
event is acknowledged with HTTP 200 but its handlers do not run again.

Handlers are registered per event type by the apps that care, e.g. in `AppConfig.ready()`:

    register_webhook_handler("payment_intent.succeeded", on_payment_succeeded)

A handler receives the verified `stripe.Event` and runs inside the transaction that records the
event: if it raises, nothing it did is kept, the event stays unrecorded, the answer is HTTP 500
and Stripe's next delivery tries again. Stripe does not deliver events in order, so a handler
must not trust the snapshot in `event.data.object` to be the latest state: it should re-read
the payment intent with `gateway.retrieve_payment_intent` and act on that, which makes a late
`payment_intent.created` after a `payment_intent.succeeded` harmless.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop.payments.models import WebhookEvent

logger = logging.getLogger(__name__)

# Stripe's own default: an event signed more than five minutes ago is refused as a replay.
SIGNATURE_TOLERANCE_SECONDS = 300

WebhookHandler = Callable[[stripe.Event], None]
_handlers: defaultdict[str, list[WebhookHandler]] = defaultdict(list)


def register_webhook_handler(event_type: str, handler: WebhookHandler) -> None:
    """Call `handler(event)` for each new event of `event_type`. Registering the same handler
    twice has no further effect."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def unregister_webhook_handler(event_type: str, handler: WebhookHandler) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)


def webhook_handlers(event_type: str) -> tuple[WebhookHandler, ...]:
    return tuple(_handlers.get(event_type, ()))


@transaction.atomic
def process_event(event: stripe.Event) -> bool:
    """Record a verified event and run its handlers; False if it had been processed already.

    Under concurrent deliveries of one event, the second insert waits on the unique event id
    until the first transaction ends, then finds the row: handlers run exactly once."""
    data_object = event["data"]["object"]
    _record, created = WebhookEvent.objects.get_or_create(
        event_id=event["id"],
        defaults={
            "event_type": event["type"],
            "object_id": data_object["id"] if "id" in data_object else "",
            "livemode": "livemode" in event and bool(event["livemode"]),
            "created_at": datetime.fromtimestamp(event["created"], tz=UTC),
        },
    )
    if not created:
        logger.info("Ignored replayed Stripe event %s (%s)", event["id"], event["type"])
        return False
    for handler in webhook_handlers(event["type"]):
        handler(event)
    return True


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = stripe.Webhook.construct_event(
            request.body,
            request.headers.get("Stripe-Signature"),
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=SIGNATURE_TOLERANCE_SECONDS,
        )
    except stripe.SignatureVerificationError as error:
        logger.warning(
            "Refused a Stripe webhook from %s: %s", request.META.get("REMOTE_ADDR"), error
        )
        return JsonResponse({"error": "invalid signature"}, status=400)
    except ValueError as error:  # signed, but not a JSON event
        logger.warning("Refused a malformed Stripe webhook: %s", error)
        return JsonResponse({"error": "invalid payload"}, status=400)
    try:
        processed = process_event(event)
    except Exception:
        logger.exception("Handling Stripe event %s (%s) failed", event["id"], event["type"])
        return JsonResponse({"error": "handler failed"}, status=500)
    return JsonResponse({"received": True, "duplicate": not processed})
