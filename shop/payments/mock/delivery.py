"""Webhook delivery: each event is POSTed to settings.STRIPE_MOCK_WEBHOOK_URL, signed as Stripe
signs (`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
settings.STRIPE_WEBHOOK_SECRET).

After the transaction that created an event commits, `schedule` hands it to one background
worker thread per process, which delivers in creation order. The API response never waits for
the webhook, as with Stripe: an app that calls the gateway while holding row locks would
otherwise deadlock against its own webhook handler. `wait_for_deliveries()` blocks until the
worker is idle (tests use it). An event whose delivery fails (no answer, or not 2xx) stays
undelivered; `manage.py stripe_mock_deliver_events` (`deliver_pending`) sends those again,
as Stripe retries. Duplicates are possible, as with Stripe; receivers de-duplicate by event id.
"""

import hashlib
import hmac
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import F
from django.utils import timezone

from shop.payments.mock.models import MockEvent

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 10
# Our own receiver is the target: never route it through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stripe-mock-webhooks")
_pending: set[Future] = set()
_pending_lock = threading.Lock()


def sign_payload(payload: str, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value for `payload` sent at `timestamp`."""
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class DeliveryResult:
    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _post(url: str, payload: str) -> DeliveryResult:
    if not url.startswith(("http://", "https://")):
        return DeliveryResult(None, f"Webhook URL must be http(s): {url!r}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=payload.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign_payload(
                payload, settings.STRIPE_WEBHOOK_SECRET, int(time.time())
            ),
        },
    )
    try:
        with _opener.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            return DeliveryResult(response.status, "")
    except urllib.error.HTTPError as error:
        error.close()
        return DeliveryResult(error.code, f"HTTP {error.code}")
    except (urllib.error.URLError, OSError) as error:
        return DeliveryResult(None, str(error))


def deliver_event(event: MockEvent) -> DeliveryResult:
    """One delivery attempt, recorded on the event. Delivering an event again re-sends it:
    that is how a replay reaches the receiver."""
    result = _post(settings.STRIPE_MOCK_WEBHOOK_URL, event.payload)
    changes = {
        "delivery_attempts": F("delivery_attempts") + 1,
        "last_response_status": result.status,
        "last_error": result.error,
    }
    if result.ok:
        changes["delivered_at"] = timezone.now()
    else:
        logger.warning("Webhook delivery of %s (%s) failed: %s", event.id, event.type, result.error)
    MockEvent.objects.filter(pk=event.pk).update(**changes)
    return result


def _deliver_by_id(event_id: str) -> None:
    try:
        event = MockEvent.objects.filter(pk=event_id, delivered_at__isnull=True).first()
        if event is not None:
            deliver_event(event)
    except Exception:
        logger.exception("Webhook delivery of %s crashed", event_id)
    finally:
        # The worker thread has its own database connection; do not leave it open between
        # events (an idle connection would block e.g. dropping the test database).
        connections.close_all()


def schedule(event_id: str) -> None:
    """Deliver the event in the background (called once its transaction has committed)."""
    future = _executor.submit(_deliver_by_id, event_id)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _pending_lock:
        _pending.discard(future)


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Block until every scheduled delivery has been attempted, including deliveries scheduled
    meanwhile (a webhook handler may itself change a payment). Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        with _pending_lock:
            pending = set(_pending)
        if not pending:
            return
        _done, not_done = wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        if not_done:
            raise TimeoutError(f"{len(not_done)} webhook deliveries still running")


def deliver_pending() -> tuple[int, int]:
    """Attempt every undelivered event once, oldest first; returns (delivered, failed)."""
    delivered = failed = 0
    for event in MockEvent.objects.filter(delivered_at__isnull=True).order_by("created", "id"):
        if deliver_event(event).ok:
            delivered += 1
        else:
            failed += 1
    return delivered, failed
