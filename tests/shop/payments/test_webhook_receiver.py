"""The receiver at /webhooks/stripe/: signature, tolerance, de-duplication, dispatch."""

import logging
import time

import pytest
from django.test import Client

from shop.payments.models import WebhookEvent
from shop.payments.webhooks import register_webhook_handler, unregister_webhook_handler
from tests.shop.payments.helpers import event_payload, post_webhook

pytestmark = pytest.mark.django_db


def test_signed_event_is_recorded_and_dispatched(handler_for):
    handler = handler_for("payment_intent.succeeded")
    status, body = post_webhook(event_payload(event_id="evt_1", object_id="pi_1"))
    assert (status, body) == (200, {"received": True, "duplicate": False})
    assert handler.event_ids == ["evt_1"]
    assert handler.events[0]["data"]["object"]["id"] == "pi_1"
    record = WebhookEvent.objects.get()
    assert (record.event_id, record.event_type, record.object_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_1",
    )
    assert record.created_at.timestamp() == 1_767_225_600


def test_forged_signature_is_refused_and_changes_nothing(handler_for, caplog):
    handler = handler_for("payment_intent.succeeded")
    with caplog.at_level(logging.WARNING, logger="shop.payments.webhooks"):
        status, body = post_webhook(event_payload(), secret="whsec_forged")
    assert (status, body) == (400, {"error": "invalid signature"})
    assert WebhookEvent.objects.count() == 0
    assert handler.events == []
    assert "Refused a Stripe webhook" in caplog.text
    assert "No signatures found matching the expected signature" in caplog.text


def test_stale_signature_is_refused(handler_for, caplog):
    handler = handler_for("payment_intent.succeeded")
    with caplog.at_level(logging.WARNING, logger="shop.payments.webhooks"):
        status, _body = post_webhook(event_payload(), timestamp=int(time.time()) - 301)
    assert status == 400
    assert WebhookEvent.objects.count() == 0
    assert handler.events == []
    assert "Timestamp outside the tolerance zone" in caplog.text


def test_signature_from_the_future_is_refused(handler_for, caplog):
    handler = handler_for("payment_intent.succeeded")
    with caplog.at_level(logging.WARNING, logger="shop.payments.webhooks"):
        status, body = post_webhook(event_payload(), timestamp=int(time.time()) + 600)
    assert (status, body) == (400, {"error": "invalid signature"})
    assert WebhookEvent.objects.count() == 0
    assert handler.events == []
    assert "signed in the future" in caplog.text


def test_signature_a_few_seconds_ahead_is_clock_skew_and_accepted(handler_for):
    handler = handler_for("payment_intent.succeeded")
    status, _body = post_webhook(event_payload(event_id="evt_1"), timestamp=int(time.time()) + 20)
    assert status == 200
    assert handler.event_ids == ["evt_1"]


def test_without_a_webhook_secret_every_webhook_is_refused(handler_for, settings):
    handler = handler_for("payment_intent.succeeded")
    payload = event_payload()
    settings.STRIPE_WEBHOOK_SECRET = ""
    status, body = post_webhook(payload, secret="")
    assert (status, body) == (400, {"error": "webhooks are not configured"})
    assert WebhookEvent.objects.count() == 0
    assert handler.events == []


def test_unsigned_request_is_refused():
    response = Client().post("/webhooks/stripe/", event_payload(), content_type="application/json")
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_replayed_event_is_acknowledged_but_handled_once(handler_for, caplog):
    handler = handler_for("payment_intent.succeeded")
    payload = event_payload(event_id="evt_1")
    assert post_webhook(payload) == (200, {"received": True, "duplicate": False})
    with caplog.at_level(logging.INFO, logger="shop.payments.webhooks"):
        assert post_webhook(payload) == (200, {"received": True, "duplicate": True})
    assert handler.event_ids == ["evt_1"]
    assert WebhookEvent.objects.count() == 1
    assert "Ignored replayed Stripe event evt_1 (payment_intent.succeeded)" in caplog.text


def test_handler_failure_answers_500_and_leaves_the_event_to_be_retried(handler_for):
    attempts = []

    def flaky(event) -> None:
        attempts.append(event["id"])
        if len(attempts) == 1:
            raise RuntimeError("database briefly unavailable")

    register_webhook_handler("payment_intent.succeeded", flaky)
    try:
        payload = event_payload(event_id="evt_1")
        assert post_webhook(payload)[0] == 500
        assert WebhookEvent.objects.count() == 0
        assert post_webhook(payload) == (200, {"received": True, "duplicate": False})
    finally:
        unregister_webhook_handler("payment_intent.succeeded", flaky)
    assert attempts == ["evt_1", "evt_1"]
    assert WebhookEvent.objects.count() == 1


def test_event_without_handler_is_acknowledged_and_recorded():
    status, body = post_webhook(event_payload("customer.created", event_id="evt_1"))
    assert (status, body) == (200, {"received": True, "duplicate": False})
    assert WebhookEvent.objects.get().event_type == "customer.created"


def test_events_arriving_out_of_order_are_each_dispatched(handler_for):
    created = handler_for("payment_intent.created")
    succeeded = handler_for("payment_intent.succeeded")
    post_webhook(event_payload("payment_intent.succeeded", event_id="evt_2", created=200))
    post_webhook(event_payload("payment_intent.created", event_id="evt_1", created=100))
    assert (created.event_ids, succeeded.event_ids) == (["evt_1"], ["evt_2"])


def test_registering_a_handler_twice_calls_it_once(handler_for):
    handler = handler_for("payment_intent.succeeded")
    register_webhook_handler("payment_intent.succeeded", handler)
    post_webhook(event_payload(event_id="evt_1"))
    assert handler.event_ids == ["evt_1"]
