"""Webhook deliveries as background work.

`webhooks_deliver_due` sends every delivery whose time has come. It is queued when an event
is committed and fired every minute by its schedule, which is what retries: a failed attempt
sets the delivery's next time by the back-off (`WEBHOOKS_RETRY_SECONDS` doubling, capped at
`WEBHOOKS_RETRY_MAX_SECONDS`) until `WEBHOOKS_MAX_ATTEMPTS`, then the delivery is FAILED.

Each delivery is claimed in a short transaction that counts the attempt and already moves its
next time on by the back-off; the POST is made after that commit, with no transaction open;
the outcome is applied in another short transaction, only if no other worker has claimed the
row since. A worker killed between the claim and the outcome leaves the row PENDING with a
next time in the future: another run sends it again then. So a receiver may get an event twice
(never none): it de-duplicates by the event id.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from shop.core.jobs import job
from shop.notifications import delivery
from shop.notifications.models import DeliveryStatus, WebhookDelivery

CLAIM_BATCH = 20


def retry_delay(attempt: int) -> timedelta:
    """How long after attempt `attempt` (1-based) the next one is due."""
    seconds = settings.WEBHOOKS_RETRY_SECONDS * 2 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, settings.WEBHOOKS_RETRY_MAX_SECONDS))


@dataclass(frozen=True)
class Claimed:
    pk: int
    attempt: int
    url: str
    secret: str
    body: str
    event_id: str
    event_type: str


def due_deliveries(now: datetime):
    return WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__is_active=True
    )


def claim(now: datetime | None = None, *, limit: int = CLAIM_BATCH) -> list[Claimed]:
    """Take up to `limit` due deliveries for this worker (others skip the locked rows)."""
    now = now or timezone.now()
    claimed = []
    with exclusive_transaction(WebhookDelivery.objects.db):
        rows = list(
            due_deliveries(now)
            .select_related("event", "endpoint")
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("next_attempt_at", "id")[:limit]
        )
        for row in rows:
            row.attempts += 1
            row.last_attempt_at = now
            # Already the back-off: if this worker dies mid-POST, that is when it goes again.
            row.next_attempt_at = now + retry_delay(row.attempts)
            claimed.append(
                Claimed(
                    pk=row.pk,
                    attempt=row.attempts,
                    url=row.endpoint.url,
                    secret=row.endpoint.secret,
                    body=row.event.payload,
                    event_id=f"evt_{row.event.public_id.hex}",
                    event_type=row.event.event_type,
                )
            )
        WebhookDelivery.objects.bulk_update(
            rows, ["attempts", "last_attempt_at", "next_attempt_at"]
        )
    return claimed


def record(claimed: Claimed, attempt: delivery.Attempt, now: datetime | None = None) -> bool:
    """Apply one attempt's outcome; False when another worker claimed the row meanwhile."""
    now = now or timezone.now()
    changes: dict = {"response_code": attempt.status, "error": attempt.error[:500]}
    if attempt.ok:
        changes.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif claimed.attempt >= settings.WEBHOOKS_MAX_ATTEMPTS:
        changes.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        changes["next_attempt_at"] = now + retry_delay(claimed.attempt)
    return bool(
        WebhookDelivery.objects.filter(
            pk=claimed.pk, status=DeliveryStatus.PENDING, attempts=claimed.attempt
        ).update(**changes)
    )


def attempt(claimed: Claimed) -> delivery.Attempt:
    return delivery.post(
        claimed.url,
        claimed.body,
        secret=claimed.secret,
        event_id=claimed.event_id,
        event_type=claimed.event_type,
    )


def deliver_due(*, max_deliveries: int | None = None) -> dict[str, int]:
    """Send due deliveries until none is left (or `max_deliveries`); returns the tally."""
    tally = {"succeeded": 0, "retrying": 0, "failed": 0}
    budget = max_deliveries or settings.WEBHOOKS_MAX_PER_RUN
    while budget > 0:
        batch = claim(limit=min(CLAIM_BATCH, budget))
        if not batch:
            break
        budget -= len(batch)
        for claimed in batch:
            outcome = attempt(claimed)
            record(claimed, outcome)
            if outcome.ok:
                tally["succeeded"] += 1
            elif claimed.attempt >= settings.WEBHOOKS_MAX_ATTEMPTS:
                tally["failed"] += 1
            else:
                tally["retrying"] += 1
    return tally


@job(max_attempts=3, backoff_seconds=30.0)
def webhooks_deliver_due() -> dict[str, int]:
    """Queued after an event commits, and every minute by its schedule (the retries)."""
    return deliver_due()
