"""An upload is checked out once, also when its checkouts race (real PostgreSQL connections)."""

import uuid

import pytest

from catalog.models import ProductVariant
from procurement.models import BasketUpload, Checkout, Order
from procurement.services import baskets
from tests.procurement.baskets import csv_bytes
from tests.procurement.flows import ADDRESS, buyer, stocked_variant
from tests.procurement.test_concurrency import run_concurrently

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_eight_simultaneous_checkouts_of_one_upload_with_different_keys_place_it_once():
    user = buyer()
    variant = stocked_variant(stock=100)
    data = csv_bytes([variant.sku, 3, ""])
    upload = baskets.basket_upload(acting_user=user, file_name="b.csv", data=data)

    def check_out():
        return baskets.basket_checkout(
            acting_user=user,
            upload_id=upload.pk,
            shipping=ADDRESS,
            idempotency_key=uuid.uuid4().hex,
        )

    results = run_concurrently([check_out for _ in range(8)])
    outcomes = sorted(r[0] if r[0] == "ok" else r[1].code for r in results)
    assert outcomes == ["BASKET_ALREADY_CHECKED_OUT"] * 7 + ["ok"]
    assert (Checkout.objects.count(), Order.objects.count()) == (1, 1)
    assert ProductVariant.objects.get(pk=variant.pk).stock == 97
    assert BasketUpload.objects.get().checkout_id == Checkout.objects.get().pk
