"""The receiver of Stripe's webhooks at /webhooks/stripe/ and the registry of their handlers.

A request is processed only if its `Stripe-Signature` verifies against
settings.STRIPE_WEBHOOK_SECRET, was signed within the last five minutes and not more than 30
seconds ahead of our clock (forged, stale and future-dated requests get HTTP 400 and change
nothing; with no secret configured every request is refused). Each event id is then recorded
once (`WebhookEvent`); a replayed or re-delivered event is acknowledged with HTTP 200 but its
handlers do not run again.

Handlers are registered per event type by the apps that care, e.g. in `AppConfig.ready()`:

    register_webhook_handler("payment_intent.succeeded", on_payment_succeeded)

A handler receives the verified `stripe.Event` and runs inside the transaction that records the
event: if it raises, nothing it did is kept, the event stays unrecorded, the answer is HTTP 500
and Stripe's next delivery tries again. Stripe does not deliver events in order, so a handler
must not trust the snapshot in `event.data.object` to be the latest state: it should re-read
the payment intent from the gateway and act on that, which makes a late
`payment_intent.created` after a `payment_intent.succeeded` harmless.

No network call may run inside a database transaction (a gateway that answers slowly would
hold the database's locks that long), so re-reading is a separate step: register the handler
with `fetch=`, a function that reads what the handler needs from the gateway *before* the
transaction opens; the handler is then called as `handler(event, fetched)`:

    register_webhook_handler("charge.refunded", apply_refunds, fetch=read_refunds)
"""

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
# A signature from the future is a forged or replayable timestamp; allow only clock skew.
FUTURE_TOLERANCE_SECONDS = 30

WebhookHandler = Callable[..., None]
WebhookFetch = Callable[[stripe.Event], Any]
_handlers: defaultdict[str, list[WebhookHandler]] = defaultdict(list)
_fetchers: dict[WebhookHandler, WebhookFetch] = {}


def register_webhook_handler(
    event_type: str, handler: WebhookHandler, *, fetch: WebhookFetch | None = None
) -> None:
    """Call `handler(event)` for each new event of `event_type`; with `fetch`,
    `handler(event, fetch(event))`, `fetch` running outside any transaction (it may call the
    gateway). Registering the same handler twice has no further effect."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)
    if fetch is not None:
        _fetchers[handler] = fetch


def unregister_webhook_handler(event_type: str, handler: WebhookHandler) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)
    if not any(handler in handlers for handlers in _handlers.values()):
        _fetchers.pop(handler, None)


def webhook_handlers(event_type: str) -> tuple[WebhookHandler, ...]:
    return tuple(_handlers.get(event_type, ()))


def process_event(event: stripe.Event) -> bool:
    """Record a verified event and run its handlers; False if it had been processed already.

    The handlers' gateway reads (`fetch`) run first, with no transaction open; then one
    transaction records the event and runs the handlers. Under concurrent deliveries of one
    event, the second insert waits on the unique event id until the first transaction ends,
    then finds the row: handlers run exactly once."""
    if WebhookEvent.objects.filter(event_id=event["id"]).exists():
        logger.info("Ignored replayed Stripe event %s (%s)", event["id"], event["type"])
        return False
    handlers = webhook_handlers(event["type"])
    fetched = {handler: _fetchers[handler](event) for handler in handlers if handler in _fetchers}
    return _record_and_handle(event, handlers, fetched)


@transaction.atomic
def _record_and_handle(
    event: stripe.Event, handlers: tuple[WebhookHandler, ...], fetched: dict[WebhookHandler, Any]
) -> bool:
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
    for handler in handlers:
        if handler in fetched:
            handler(event, fetched[handler])
        else:
            handler(event)
    return True


def _signed_in_future(header: str | None) -> bool:
    """Whether the signature's timestamp is later than now plus the allowed clock skew. The
    SDK only refuses stale timestamps; one far ahead would stay "fresh" for as long."""
    stamps = [part.partition("=")[2] for part in (header or "").split(",") if part.startswith("t=")]
    now = time.time()
    return any(stamp.isdigit() and int(stamp) > now + FUTURE_TOLERANCE_SECONDS for stamp in stamps)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if not settings.STRIPE_WEBHOOK_SECRET:
        # An empty secret would make every signature "verify" (HMAC with an empty key).
        logger.error("Refused a Stripe webhook: STRIPE_WEBHOOK_SECRET is not set")
        return JsonResponse({"error": "webhooks are not configured"}, status=400)
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
    if _signed_in_future(request.headers.get("Stripe-Signature")):
        logger.warning(
            "Refused a Stripe webhook from %s signed in the future", request.META.get("REMOTE_ADDR")
        )
        return JsonResponse({"error": "invalid signature"}, status=400)
    try:
        processed = process_event(event)
    except Exception:
        logger.exception("Handling Stripe event %s (%s) failed", event["id"], event["type"])
        return JsonResponse({"error": "handler failed"}, status=500)
    return JsonResponse({"received": True, "duplicate": not processed})
