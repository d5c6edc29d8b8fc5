"""Reads of the mock's objects, answering Stripe's `resource_missing` for unknown ids."""

from django.db.models import QuerySet

from shop.payments.mock.errors import resource_missing
from shop.payments.mock.models import MockEvent, MockPaymentIntent, MockRefund


def payment_intent_get(intent_id: str) -> MockPaymentIntent:
    intent = MockPaymentIntent.objects.select_related("latest_charge").filter(pk=intent_id).first()
    if intent is None:
        raise resource_missing("payment_intent", intent_id, param="intent")
    return intent


def refund_get(refund_id: str) -> MockRefund:
    refund = MockRefund.objects.filter(pk=refund_id).first()
    if refund is None:
        raise resource_missing("refund", refund_id, param="refund")
    return refund


def refunds_of(payment_intent_id: str | None) -> QuerySet[MockRefund]:
    """Refunds, newest first; of one payment intent when given."""
    refunds = MockRefund.objects.order_by("-created", "-id")
    return refunds.filter(payment_intent_id=payment_intent_id) if payment_intent_id else refunds


def event_get(event_id: str) -> MockEvent:
    event = MockEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise resource_missing("event", event_id, param="id")
    return event
