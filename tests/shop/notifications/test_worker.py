"""Deliveries run by real `manage.py worker` processes on the test PostgreSQL: the job queued
by a commit sends the event, and a worker killed (SIGKILL) while its request is in flight
loses nothing: another worker sends it again."""

import signal

import pytest
from django.db import transaction

from shop.notifications.events import EventType, supplier
from shop.notifications.models import DeliveryStatus, WebhookDelivery
from shop.notifications.services import publish
from tests.factories import SupplierFactory, WebhookEndpointFactory
from tests.shop.core.test_jobs import database_jobs, workers  # noqa: F401 (fixtures)
from tests.shop.notifications.receiver import verify

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WORKER_ENV = {
    "JOBS_SCHEDULES": "tests.shop.notifications.schedules.SCHEDULES",
    "WEBHOOKS_ALLOW_HTTP": "true",
    "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true",
    # the killed attempt's claim holds the delivery for 1 s instead of a minute
    "WEBHOOKS_RETRY_SECONDS": "1",
}


def delivered() -> bool:
    return WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists()


def test_a_worker_sends_the_event_its_commit_queued(workers, receiver):  # noqa: F811
    target = SupplierFactory()
    endpoint = WebhookEndpointFactory(supplier=target, url=receiver.url)
    with transaction.atomic():
        publish(EventType.SUPPLIER_EXITED, {"reason": "test"}, [supplier(target.pk)])
    workers.start("w1", **WORKER_ENV)
    workers.wait_for("the delivery", delivered)

    [got] = receiver.requests
    assert verify(got.body, got.headers["X-Shanhai-Signature"], endpoint.secret)
    assert WebhookDelivery.objects.get().attempts == 1


def test_a_worker_killed_mid_delivery_loses_nothing(workers, receiver):  # noqa: F811
    target = SupplierFactory()
    endpoint = WebhookEndpointFactory(supplier=target, url=receiver.url)
    receiver.release.clear()  # the receiver holds the first request open
    with transaction.atomic():
        publish(EventType.SUPPLIER_EXITED, {"reason": "test"}, [supplier(target.pk)])
    first = workers.start("w1", **WORKER_ENV)
    workers.wait_for("the request in flight", receiver.arrived.is_set)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    receiver.release.set()

    workers.start("w2", **WORKER_ENV)
    workers.wait_for("the delivery again", delivered)
    row = WebhookDelivery.objects.get()
    assert row.attempts == 2
    # at least once: the same event, twice (the receiver de-duplicates by its id)
    assert len(set(receiver.event_ids())) == 1
    assert len(receiver.requests) == 2
    assert all(
        verify(r.body, r.headers["X-Shanhai-Signature"], endpoint.secret) for r in receiver.requests
    )
