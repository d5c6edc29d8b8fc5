"""Concurrency rules with real concurrent PostgreSQL connections: no oversell, idempotent
checkout under simultaneous retries."""

import threading
import uuid

import pytest
from django.db import close_old_connections, connection

from catalog.models import ProductVariant
from procurement.models import Checkout, Order, OrderLine
from procurement.services import checkout
from shop.core.errors import DomainError
from tests.procurement.flows import ADDRESS, buyer, stocked_variant

pytestmark = [
    pytest.mark.postgres,
    # Real commits; reference data (counties, categories) is restored after each flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_concurrently(calls):
    """Start every call at the same moment, each on its own thread and database connection."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            results[index] = ("ok", call())
        except DomainError as error:
            results[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    return results


def buy(user, variant, quantity, key=None):
    return lambda: checkout.checkout_create(
        acting_user=user,
        lines=[checkout.CheckoutLine(variant.pk, quantity)],
        shipping=ADDRESS,
        idempotency_key=key or uuid.uuid4().hex,
    )


def test_twenty_buyers_racing_for_the_last_units_never_oversell():
    assert connection.vendor == "postgresql"
    variant = stocked_variant(stock=7)
    buyers = [buyer() for _ in range(20)]
    results = run_concurrently([buy(user, variant, 1) for user in buyers])
    sold = [r for r in results if r[0] == "ok"]
    refused = [r[1] for r in results if r[0] == "error"]
    assert len(sold) == 7
    assert len(refused) == 13
    assert {error.code for error in refused} == {"INSUFFICIENT_STOCK"}
    assert all("only 0" in error.message or "left" in error.message for error in refused)
    assert ProductVariant.objects.get(pk=variant.pk).stock == 0
    assert sum(line.quantity for line in OrderLine.objects.all()) == 7


def test_uneven_quantities_never_exceed_stock():
    variant = stocked_variant(stock=50)
    calls = [
        buy(buyer(), variant, quantity)
        for quantity in (7, 9, 11, 13, 5, 8, 6, 10, 12, 4, 3, 2, 9, 7, 6, 5)
    ]
    results = run_concurrently(calls)
    sold = sum(OrderLine.objects.values_list("quantity", flat=True))
    assert sold <= 50
    assert ProductVariant.objects.get(pk=variant.pk).stock == 50 - sold
    assert sold == sum(r[1][0].lines.get().quantity for r in results if r[0] == "ok")


def test_sixteen_simultaneous_retries_with_one_key_place_one_checkout():
    variant = stocked_variant(stock=100)
    user = buyer()
    key = uuid.uuid4().hex
    results = run_concurrently([buy(user, variant, 3, key=key) for _ in range(16)])
    assert all(r[0] == "ok" for r in results)
    order_ids = {tuple(order.pk for order in r[1]) for r in results}
    assert len(order_ids) == 1
    assert (Checkout.objects.count(), Order.objects.count()) == (1, 1)
    assert ProductVariant.objects.get(pk=variant.pk).stock == 97


def test_concurrent_bookings_all_join_the_tree_once_in_one_line(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from procurement import ledger
    from procurement.models import ContributionEntry, LedgerTreeNode
    from procurement.services import payments
    from procurement.transparency import store
    from tests.procurement.test_ledger_transparency import raw_key

    settings.LEDGER_SIGNING_KEY = raw_key(Ed25519PrivateKey.generate())
    from tests.factories import UserFactory
    from tests.procurement import flows

    operator = UserFactory(role="OPERATOR")
    accepted = []
    for _ in range(12):
        user = buyer()
        (order,) = flows.place(user, (stocked_variant(stock=10, price="10.00"), 2))
        flows.to_accepted(order, user)
        accepted.append(order)
    results = run_concurrently(
        [
            (
                lambda order=order: payments.payment_record_transfer(
                    acting_user=operator, order_id=order.pk, reference=f"R{order.pk}"
                )
            )
            for order in accepted
        ]
    )
    assert all(r[0] == "ok" for r in results)
    # Positions come from a sequence (no booking waits for another): unique, not necessarily
    # from 1 in a database other tests used. The tree is the line: leaves 0..11, each entry once.
    assert ContributionEntry.objects.values("position").distinct().count() == 12
    assert store.checkpoint().tree_size == 12
    leaves = LedgerTreeNode.objects.filter(level=0).order_by("index")
    assert list(leaves.values_list("index", flat=True)) == list(range(12))
    assert set(leaves.values_list("entry_id", flat=True)) == set(
        ContributionEntry.objects.values_list("pk", flat=True)
    )
    assert ledger.verify().ok
