"""Webhook deliveries against a real HTTP receiver: signed, sent only after commit, retried
with back-off while the receiver is down, safe when a worker dies mid-delivery, given up after
the last attempt; and the address guard of production."""

import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from shop.notifications import delivery, jobs
from shop.notifications.events import EventType, supplier
from shop.notifications.models import DeliveryStatus, OutboundEvent, WebhookDelivery
from shop.notifications.services import publish
from tests.factories import SupplierFactory, WebhookEndpointFactory
from tests.shop.notifications.receiver import verify


def suspended(target) -> None:
    publish(
        EventType.SUPPLIER_SUSPENDED, {"supplier": {"name": target.name}}, [supplier(target.pk)]
    )


@pytest.fixture
def target(db):
    return SupplierFactory()


@pytest.fixture
def endpoint(target, receiver):
    return WebhookEndpointFactory(supplier=target, url=receiver.url)


def test_the_receiver_gets_the_event_signed_with_the_endpoint_secret(
    target, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        suspended(target)

    [got] = receiver.requests
    assert verify(got.body, got.headers["X-Shanhai-Signature"], endpoint.secret)
    assert not verify(got.body, got.headers["X-Shanhai-Signature"], "whsec_someone_else")
    event = got.event
    assert event["type"] == "supplier.suspended"
    assert event["data"] == {"supplier": {"name": target.name}}
    assert got.headers["X-Shanhai-Event-Id"] == event["id"]
    sent = WebhookDelivery.objects.get()
    assert (sent.status, sent.attempts, sent.response_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert json.loads(sent.event.payload) == event


def test_the_signature_timestamp_is_the_sending_time(
    target, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        suspended(target)
    [got] = receiver.requests
    assert verify(
        got.body,
        got.headers["X-Shanhai-Signature"],
        endpoint.secret,
        tolerance=300,
        now=int(time.time()),
    )


def test_nothing_is_sent_until_the_transaction_commits(
    target, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        suspended(target)
    # The event and its delivery are recorded; the job that sends them is queued by the
    # commit (the suite's network guard fails any request made inside a transaction).
    assert WebhookDelivery.objects.get().attempts == 0
    assert receiver.requests == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(receiver.requests) == 1


def suspended_then_failed(target) -> None:
    with transaction.atomic():
        suspended(target)
        raise RuntimeError("the change failed")


def test_a_rolled_back_change_sends_nothing(target, endpoint, receiver):
    with pytest.raises(RuntimeError):
        suspended_then_failed(target)
    assert jobs.deliver_due() == {"succeeded": 0, "retrying": 0, "failed": 0}
    assert OutboundEvent.objects.count() == 0
    assert receiver.requests == []


def test_a_receiver_that_was_down_gets_every_event_later(target, endpoint, receiver):
    receiver.stop()
    for _ in range(3):
        suspended(target)
    assert jobs.deliver_due() == {"succeeded": 0, "retrying": 3, "failed": 0}
    waiting = WebhookDelivery.objects.all()
    assert {(d.status, d.attempts, d.response_code) for d in waiting} == {
        (DeliveryStatus.PENDING, 1, None)
    }
    assert all("Connection" in d.error or "refused" in d.error for d in waiting)

    receiver.start()
    assert jobs.deliver_due()["succeeded"] == 0  # not due again before its back-off
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert jobs.deliver_due() == {"succeeded": 3, "retrying": 0, "failed": 0}
    assert sorted(receiver.event_ids()) == sorted(
        f"evt_{e.public_id.hex}" for e in OutboundEvent.objects.all()
    )
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {
        (DeliveryStatus.SUCCEEDED, 2)
    }


def test_retries_back_off_doubling_to_the_cap_then_the_delivery_fails(target, endpoint, receiver):
    receiver.status = 500
    suspended(target)
    start = timezone.now()
    gaps = []
    with time_machine.travel(start, tick=False) as clock:
        while WebhookDelivery.objects.get().status == DeliveryStatus.PENDING:
            jobs.deliver_due()
            row = WebhookDelivery.objects.get()
            if row.next_attempt_at:
                gaps.append((row.next_attempt_at - timezone.now()).total_seconds())
                clock.move_to(row.next_attempt_at)
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_code) == (DeliveryStatus.FAILED, 12, 500)
    assert gaps == [60, 120, 240, 480, 960, 1920, 3840, 7680, 14400, 14400, 14400]
    assert len(receiver.requests) == 12
    assert jobs.deliver_due()["failed"] == 0  # given up: never sent again


def test_a_worker_that_dies_mid_delivery_leaves_it_to_be_sent_again(target, endpoint, receiver):
    suspended(target)
    [claimed] = jobs.claim()  # ... and the worker is killed before it records anything
    assert jobs.deliver_due()["succeeded"] == 0  # another worker: not yet, the claim holds

    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert jobs.deliver_due() == {"succeeded": 1, "retrying": 0, "failed": 0}
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert receiver.event_ids() == [claimed.event_id]


def test_a_late_outcome_of_a_stale_attempt_does_not_overwrite_a_newer_one(
    target, endpoint, receiver
):
    suspended(target)
    [stale] = jobs.claim()
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        [fresh] = jobs.claim()
        assert jobs.record(fresh, jobs.attempt(fresh))
        assert not jobs.record(stale, delivery.Attempt(None, "timed out"))
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.error) == (DeliveryStatus.SUCCEEDED, 2, "")


def test_an_inactive_endpoint_is_sent_nothing_until_it_is_active_again(target, endpoint, receiver):
    suspended(target)
    endpoint.is_active = False
    endpoint.save()
    assert jobs.deliver_due()["succeeded"] == 0
    endpoint.is_active = True
    endpoint.save()
    assert jobs.deliver_due()["succeeded"] == 1


def test_redirects_are_not_followed(target, endpoint, receiver):
    receiver.status = 302
    receiver.headers_out = {"Location": "http://127.0.0.1:9/internal"}
    suspended(target)
    assert jobs.deliver_due() == {"succeeded": 0, "retrying": 1, "failed": 0}
    row = WebhookDelivery.objects.get()
    assert (row.response_code, row.error) == (302, "HTTP 302")


# --- the address guard (production settings) ---------------------------------------------


@pytest.fixture
def production_guard(settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.cn/in", "URL_NOT_ALLOWED"),
        ("https://127.0.0.1/in", "URL_NOT_ALLOWED"),
        ("https://10.1.2.3/in", "URL_NOT_ALLOWED"),
        ("https://192.168.0.8:8443/in", "URL_NOT_ALLOWED"),
        ("https://169.254.169.254/latest/meta-data", "URL_NOT_ALLOWED"),
        ("https://[::1]/in", "URL_NOT_ALLOWED"),
        ("https://[::ffff:127.0.0.1]/in", "URL_NOT_ALLOWED"),
        ("https://localhost/in", "URL_NOT_ALLOWED"),
        ("ftp://hooks.example.cn/in", "INVALID_URL"),
        ("https://user:pw@hooks.example.cn/in", "INVALID_URL"),
        ("https:///in", "INVALID_URL"),
        ("https://hooks.example.cn:99999/in", "INVALID_URL"),
    ],
)
def test_production_refuses_urls_that_are_not_public_https(production_guard, url, code):
    assert delivery.url_problem(url).code == code


def test_production_accepts_a_public_https_url(production_guard):
    assert delivery.url_problem("https://hooks.example.cn/shanhai?x=1") is None


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(
    production_guard, settings, receiver
):
    """2130706433 is 127.0.0.1 written as one number: no IP literal to the URL check, but the
    resolver turns it into loopback, and the connected peer is checked before anything is sent."""
    settings.WEBHOOKS_ALLOW_HTTP = True
    url = f"http://2130706433:{receiver.port}/hooks"
    assert delivery.url_problem(url) is None
    outcome = delivery.post(url, "{}", secret="s", event_id="evt_1", event_type="webhook.test")
    assert outcome.status is None
    assert "may not be called" in outcome.error
    assert receiver.requests == []
