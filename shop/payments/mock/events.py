"""Events: written in the transaction of the change they describe, delivered after it commits."""

import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import stripe
from django.db import transaction
from django.utils import timezone

from shop.payments.mock import delivery
from shop.payments.mock.ids import new_id
from shop.payments.mock.models import MockEvent
from shop.payments.mock.objects import timestamp


@dataclass(frozen=True)
class ApiRequest:
    """The API request that caused an event; Stripe reports it in the event's `request`."""

    id: str
    idempotency_key: str | None


_current_request: contextvars.ContextVar[ApiRequest | None] = contextvars.ContextVar(
    "stripe_mock_request", default=None
)


@contextmanager
def api_request(request: ApiRequest) -> Iterator[None]:
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


def emit(event_type: str, obj: dict[str, Any]) -> MockEvent:
    """Record an event with a snapshot of `obj`; it is delivered once the transaction commits
    (and never if it rolls back)."""
    now = timezone.now()
    request = _current_request.get()
    event_id = new_id("evt")
    payload = {
        "id": event_id,
        "object": "event",
        # The version the installed SDK speaks, as a Stripe account pinned to it would send.
        "api_version": stripe.api_version,
        "created": timestamp(now),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {
            "id": request.id if request else None,
            "idempotency_key": request.idempotency_key if request else None,
        },
        "type": event_type,
    }
    event = MockEvent.objects.create(
        id=event_id, type=event_type, payload=json.dumps(payload, indent=2), created=now
    )
    transaction.on_commit(partial(delivery.schedule, event.id))
    return event
