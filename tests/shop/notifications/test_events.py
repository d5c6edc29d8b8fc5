"""What each business event publishes, driven through the real services: which organisations'
endpoints get it (and nobody else's), what their people are told, and e-mail choices."""

import datetime

import pytest
from django.core import mail

from catalog.services import suppliers
from procurement.services import orders, shipments
from procurement.services.payment_terms import send_payment_reminders
from shop.accounts.models import Role
from shop.core.models import Notification
from shop.notifications.jobs import deliver_due
from shop.notifications.models import EmailPreference, OutboundEvent, WebhookDelivery
from tests.factories import UserFactory, WebhookEndpointFactory
from tests.procurement import flows
from tests.procurement.flows import buyer, new_supplier, place, staff_of, stocked_variant
from tests.procurement.test_payment_terms import accepted_at, at


def delivered_types(endpoint) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .order_by("id")
        .values_list("event__event_type", flat=True)
    )


@pytest.fixture
def trade(db, receiver):
    """An agency buying from a supplier, each with an endpoint; a bystander supplier too."""
    agency_user = buyer()
    variant = stocked_variant(stock=100, price="20.00")
    seller = variant.product.supplier
    staff = staff_of(seller)
    return {
        "agency_user": agency_user,
        "variant": variant,
        "staff": staff,
        "agency_hook": WebhookEndpointFactory(agency=agency_user.agency, url=receiver.url),
        "supplier_hook": WebhookEndpointFactory(supplier=seller, url=receiver.url),
        "bystander_hook": WebhookEndpointFactory(supplier=new_supplier(), url=receiver.url),
        "platform_hook": WebhookEndpointFactory(url=receiver.url),
    }


def test_an_order_placed_confirmed_shipped_in_two_parcels_and_accepted_is_told_to_both_sides(
    trade, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (order,) = place(trade["agency_user"], (trade["variant"], 4))
        orders.order_confirm(acting_user=trade["staff"], order_id=order.pk)
        line = order.lines.get()
        for tracking in ("SF1", "SF2"):
            shipments.shipment_create(
                acting_user=trade["staff"],
                order_id=order.pk,
                carrier="顺丰",
                tracking_number=tracking,
                lines=[shipments.ShippedLine(line.pk, 2)],
            )
        for parcel in order.shipments.order_by("number"):
            shipments.shipment_accept(
                acting_user=trade["agency_user"], shipment_id=parcel.pk, lines=[]
            )

    expected = [
        "order.placed",
        "order.confirmed",
        "order.shipped",
        "order.shipped",
        "order.accepted",
    ]
    for hook in ("agency_hook", "supplier_hook", "platform_hook"):
        assert delivered_types(trade[hook]) == expected
    assert delivered_types(trade["bystander_hook"]) == []
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"SUCCEEDED"}
    shipped = [r.event for r in receiver.requests if r.event["type"] == "order.shipped"]
    assert [s["data"]["fullyShipped"] for s in shipped[::3]] == [False, True]
    assert shipped[0]["data"]["shipment"]["trackingNumber"] == "SF1"
    accepted = next(r.event for r in receiver.requests if r.event["type"] == "order.accepted")
    assert accepted["data"]["order"]["number"] == order.number
    assert accepted["data"]["order"]["paymentDueDate"]
    assert Notification.objects.filter(user=trade["staff"]).count() == 5


def test_an_endpoint_hears_only_the_types_it_subscribed_to(trade, receiver):
    trade["supplier_hook"].event_types = ["order.accepted"]
    trade["supplier_hook"].save()
    (order,) = place(trade["agency_user"], (trade["variant"], 1))
    orders.order_confirm(acting_user=trade["staff"], order_id=order.pk)
    assert delivered_types(trade["supplier_hook"]) == []
    assert delivered_types(trade["agency_hook"]) == ["order.placed", "order.confirmed"]


def test_a_checkout_with_two_suppliers_tells_each_supplier_only_its_own_order(trade, receiver):
    other = stocked_variant(stock=10, price="5.00")
    other_hook = WebhookEndpointFactory(supplier=other.product.supplier, url=receiver.url)
    placed = place(trade["agency_user"], (trade["variant"], 1), (other, 1))
    assert delivered_types(trade["agency_hook"]) == ["order.placed", "order.placed"]
    numbers = {
        hook.pk: [d.event.payload for d in WebhookDelivery.objects.filter(endpoint=hook)]
        for hook in (trade["supplier_hook"], other_hook)
    }
    by_supplier = {o.supplier_id: o.number for o in placed}
    assert (
        by_supplier[trade["variant"].product.supplier_id] in numbers[trade["supplier_hook"].pk][0]
    )
    assert by_supplier[other.product.supplier_id] in numbers[other_hook.pk][0]
    assert len(numbers[other_hook.pk]) == 1


def test_an_operator_suspension_is_told_to_the_supplier(
    trade, operator, receiver, django_capture_on_commit_callbacks
):
    seller = trade["variant"].product.supplier
    with django_capture_on_commit_callbacks(execute=True):
        suppliers.supplier_suspend(acting_user=operator, supplier_id=seller.pk, reason="抽检不合格")
    [got] = [r for r in receiver.requests if r.event["type"] == "supplier.suspended"][:1]
    assert got.event["data"]["reason"] == "抽检不合格"
    assert delivered_types(trade["supplier_hook"]) == ["supplier.suspended"]
    assert delivered_types(trade["agency_hook"]) == []
    assert [m.subject for m in mail.outbox] == ["[山海] 供货资格已暂停"]
    assert mail.outbox[0].to == [trade["staff"].email]


def test_an_overdue_payment_is_told_to_the_supplier_by_webhook_and_to_the_buyer_by_mail(
    db, receiver, django_capture_on_commit_callbacks
):
    user = buyer()
    order = accepted_at(at("2026-03-01"), user)
    supplier_hook = WebhookEndpointFactory(supplier=order.supplier, url=receiver.url)
    agency_hook = WebhookEndpointFactory(agency=order.agency, url=receiver.url)
    staff_of(order.supplier)

    with django_capture_on_commit_callbacks(execute=True):
        send_payment_reminders(today=datetime.date(2026, 4, 3))
    assert delivered_types(supplier_hook) == ["payment.overdue"]
    assert delivered_types(agency_hook) == ["payment.overdue"]
    overdue = next(r.event for r in receiver.requests if r.event["type"] == "payment.overdue")
    assert overdue["data"]["daysOverdue"] == 3
    assert [m.to for m in mail.outbox] == [[user.email]]  # the buyer, not the supplier


def test_a_user_who_opted_out_keeps_the_in_app_notification_but_gets_no_mail(
    trade, django_capture_on_commit_callbacks
):
    EmailPreference.objects.create(user=trade["staff"], event_types=["order.accepted"])
    colleague = UserFactory(role=Role.SUPPLIER, supplier=trade["staff"].supplier)
    with django_capture_on_commit_callbacks(execute=True):
        place(trade["agency_user"], (trade["variant"], 1))
    assert Notification.objects.filter(user=trade["staff"]).count() == 1
    recipients = sorted(to for m in mail.outbox for to in m.to)
    assert recipients == sorted([trade["agency_user"].email, colleague.email])


def test_every_event_is_recorded_even_with_no_endpoint(db):
    user = buyer()
    flows.to_accepted(place(user, (stocked_variant(), 1))[0], user)
    assert list(OutboundEvent.objects.order_by("id").values_list("event_type", flat=True)) == [
        "order.placed",
        "order.confirmed",
        "order.shipped",
        "order.accepted",
    ]
    assert WebhookDelivery.objects.count() == 0
    assert deliver_due() == {"succeeded": 0, "retrying": 0, "failed": 0}
