"""The mock's events, delivered signed over HTTP to the receiver."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import stripe
from django.core.management import call_command
from django.db import connection

from shop.payments import gateway
from shop.payments.errors import PaymentDeclined
from shop.payments.mock.delivery import deliver_event, sign_payload, wait_for_deliveries
from shop.payments.mock.models import MockEvent
from shop.payments.models import WebhookEvent
from shop.payments.webhooks import register_webhook_handler, unregister_webhook_handler

pytestmark = pytest.mark.django_db(transaction=True)


def paid_intent(amount: str = "100.00", key: str = "order-SH0001-pay-1"):
    intent = gateway.create_payment_intent(
        amount=Decimal(amount), order_reference="SH0001", idempotency_key=key
    )
    return gateway.confirm_payment_intent(intent.id, payment_method="pm_card_visa")


def received_types() -> list[str]:
    return list(WebhookEvent.objects.order_by("id").values_list("event_type", flat=True))


def test_payment_events_are_delivered_and_accepted(stripe_mock, handler_for):
    handler = handler_for("payment_intent.succeeded")
    intent = paid_intent()
    wait_for_deliveries()
    assert received_types() == ["payment_intent.created", "payment_intent.succeeded"]
    assert list(MockEvent.objects.values_list("last_response_status", "delivery_attempts")) == [
        (200, 1),
        (200, 1),
    ]
    assert handler.event_ids == [MockEvent.objects.get(type="payment_intent.succeeded").id]
    delivered = handler.events[0]["data"]["object"]
    assert (delivered["id"], delivered["status"], delivered["amount_received"]) == (
        intent.id,
        "succeeded",
        10000,
    )
    assert delivered["metadata"]["order_reference"] == "SH0001"


def test_mock_signature_is_accepted_by_the_sdk(stripe_mock, settings):
    paid_intent()
    event = MockEvent.objects.get(type="payment_intent.succeeded")
    header = sign_payload(event.payload, settings.STRIPE_WEBHOOK_SECRET, int(time.time()))
    constructed = stripe.Webhook.construct_event(
        event.payload, header, settings.STRIPE_WEBHOOK_SECRET, tolerance=300
    )
    assert (constructed.id, constructed.type) == (event.id, "payment_intent.succeeded")
    assert constructed.data.object.object == "payment_intent"
    assert constructed.request.idempotency_key is not None


def test_decline_sends_payment_failed(stripe_mock):
    intent = gateway.create_payment_intent(
        amount=Decimal("10.00"), order_reference="SH0001", idempotency_key="k-1"
    )
    with pytest.raises(PaymentDeclined):
        gateway.confirm_payment_intent(intent.id, payment_method="pm_card_chargeDeclined")
    wait_for_deliveries()
    assert received_types() == ["payment_intent.created", "payment_intent.payment_failed"]
    failed = json.loads(MockEvent.objects.get(type="payment_intent.payment_failed").payload)
    assert failed["data"]["object"]["last_payment_error"]["decline_code"] == "generic_decline"


def test_cancel_sends_canceled(stripe_mock):
    intent = gateway.create_payment_intent(
        amount=Decimal("10.00"), order_reference="SH0001", idempotency_key="k-1"
    )
    gateway.cancel_payment_intent(intent.id)
    wait_for_deliveries()
    assert received_types() == ["payment_intent.created", "payment_intent.canceled"]


def test_refund_sends_charge_refunded_and_refund_created(stripe_mock):
    intent = paid_intent("100.00")
    refund = gateway.refund_payment(
        payment_intent_id=intent.id, amount=Decimal("25.00"), idempotency_key="refund-1"
    )
    wait_for_deliveries()
    assert received_types()[2:] == ["charge.refunded", "refund.created"]
    charge = json.loads(MockEvent.objects.get(type="charge.refunded").payload)["data"]["object"]
    assert (charge["payment_intent"], charge["amount_refunded"], charge["refunded"]) == (
        intent.id,
        2500,
        False,
    )
    created = json.loads(MockEvent.objects.get(type="refund.created").payload)["data"]["object"]
    assert (created["id"], created["amount"]) == (refund.id, 2500)


def test_redelivered_event_is_acknowledged_but_handled_once(stripe_mock, handler_for):
    handler = handler_for("payment_intent.succeeded")
    paid_intent()
    wait_for_deliveries()
    event = MockEvent.objects.get(type="payment_intent.succeeded")
    result = deliver_event(event)
    assert result.status == 200
    assert handler.event_ids == [event.id]
    assert MockEvent.objects.get(pk=event.pk).delivery_attempts == 2
    assert WebhookEvent.objects.filter(event_id=event.id).count() == 1


def test_failed_delivery_is_sent_again_by_the_command(stripe_mock, settings, capsys):
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{stripe_mock.url}/webhooks/nowhere/"
    paid_intent()
    wait_for_deliveries()
    assert list(MockEvent.objects.values_list("last_response_status", flat=True)) == [404, 404]
    assert MockEvent.objects.filter(delivered_at__isnull=True).count() == 2
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{stripe_mock.url}/webhooks/stripe/"
    call_command("stripe_mock_deliver_events")
    assert capsys.readouterr().out == "2 delivered, 0 failed\n"
    assert received_types() == ["payment_intent.created", "payment_intent.succeeded"]
    assert MockEvent.objects.filter(delivered_at__isnull=True).count() == 0


def test_event_can_be_retrieved_from_the_api(stripe_mock):
    paid_intent()
    event = MockEvent.objects.get(type="payment_intent.succeeded")
    client = stripe.StripeClient(
        "sk_test_shanhai_mock", base_addresses={"api": f"{stripe_mock.url}/stripe-mock"}
    )
    fetched = client.v1.events.retrieve(event.id)
    assert (fetched.id, fetched.type) == (event.id, "payment_intent.succeeded")


@pytest.mark.postgres
def test_simultaneous_deliveries_of_one_event_are_handled_once(stripe_mock, settings):
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{stripe_mock.url}/webhooks/nowhere/"
    paid_intent()
    wait_for_deliveries()
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{stripe_mock.url}/webhooks/stripe/"
    event = MockEvent.objects.get(type="payment_intent.succeeded")
    handled = []

    def slow_handler(received) -> None:
        time.sleep(0.3)  # the second delivery arrives while the first is still being handled
        handled.append(received["id"])

    barrier = threading.Barrier(2)

    def deliver(_index: int) -> int | None:
        barrier.wait()
        try:
            return deliver_event(event).status
        finally:
            connection.close()  # this thread's own connection

    register_webhook_handler("payment_intent.succeeded", slow_handler)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(deliver, range(2)))
    finally:
        unregister_webhook_handler("payment_intent.succeeded", slow_handler)
    assert statuses == [200, 200]
    assert handled == [event.id]
    assert WebhookEvent.objects.filter(event_id=event.id).count() == 1
