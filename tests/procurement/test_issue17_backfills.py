"""The data the issue 17 migrations fill in for orders made before them (run against the
current models, which have the fields those migrations read and write)."""

import importlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

import time_machine
from django.apps import apps

from procurement.models import Order, Shipment
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant

SHANGHAI = ZoneInfo("Asia/Shanghai")
payment_terms = importlib.import_module("procurement.migrations.0005_payment_terms")
shipments = importlib.import_module("procurement.migrations.0006_shipments")


def test_orders_accepted_before_payment_terms_get_a_due_date_and_on_time(db, operator):
    user = buyer()
    (order,) = place(user, (stocked_variant(price="10.00"), 3))
    with time_machine.travel(datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI), tick=False):
        flows.to_accepted(order, user)
    with time_machine.travel(datetime(2026, 4, 2, 9, tzinfo=SHANGHAI), tick=False):
        flows.pay_by_transfer(order, operator)
    Order.objects.update(payment_due_date=None, paid_on_time=None)
    payment_terms.backfill_due_dates(apps, None)
    order.refresh_from_db()
    assert (order.payment_due_date, order.paid_on_time) == (date(2026, 3, 31), False)


def test_orders_shipped_before_parcels_get_one_parcel_with_everything(db):
    user = buyer()
    first = stocked_variant(price="10.00")
    (order,) = place(user, (first, 3), (stocked_variant(supplier=first.product.supplier), 2))
    flows.to_accepted(order, user, {order.lines.order_by("id").first().pk: 1})
    Shipment.objects.all().delete()
    shipments.backfill_shipments(apps, None)
    parcel = Shipment.objects.get(order=order)
    order.refresh_from_db()
    assert (parcel.number, parcel.tracking_number) == (1, order.tracking_number)
    assert (parcel.shipped_at, parcel.accepted_at) == (order.shipped_at, order.accepted_at)
    assert sorted(parcel.lines.values_list("quantity", "accepted_quantity")) == [(2, 2), (3, 1)]
