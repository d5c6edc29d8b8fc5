"""Index maintenance on every backend: catalog services queue the products they change in
their own transaction (outbox), the queue is drained after the commit, and `search_sync`
reconciles what expires by date. `search_reindex` rebuilds with a new index and an alias swap."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from catalog.models import ProductVariant
from catalog.services.products import ProductInput, product_update
from catalog.services.suppliers import supplier_exit, supplier_reinstate, supplier_suspend
from catalog.services.variants import VariantInput, product_variant_update, stock_update
from search import indexing
from search.backends import get_search_backend
from search.models import ProductSearchEntry, SearchOutbox
from shop.accounts.models import Role
from tests.factories import ProductFactory, UserFactory, VariantFactory


@pytest.fixture
def staff_of(db):
    def make(product):
        return UserFactory(role=Role.SUPPLIER, supplier=product.supplier)

    return make


def found(search, shop_catalog, text="", **filters) -> set[str]:
    return set(shop_catalog.keys(search(text, **filters).ids))


def test_a_rolled_back_change_queues_nothing(shop_catalog):
    product = shop_catalog["potato-1"]
    queued_inside = []

    def change_then_fail():
        with transaction.atomic():
            indexing.products_changed([product.pk])
            queued_inside.append(SearchOutbox.objects.filter(product_id=product.pk).count())
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert queued_inside == [1]
    assert not SearchOutbox.objects.exists()


def test_an_edit_reaches_the_index_after_commit(
    search, shop_catalog, staff_of, django_capture_on_commit_callbacks
):
    potato = shop_catalog["potato-1"]
    assert "potato-1" not in found(search, shop_catalog, "枸杞")
    with django_capture_on_commit_callbacks(execute=True):
        product_update(
            acting_user=staff_of(potato),
            product_id=potato.pk,
            data=ProductInput(description="与枸杞同产于宁夏的高原马铃薯。"),
        )
        # queued in the same transaction, not yet indexed
        assert SearchOutbox.objects.filter(product_id=potato.pk).exists()
    assert not SearchOutbox.objects.exists()
    found_now = search("枸杞").ids
    assert potato.pk in found_now
    assert found_now[-1] in (potato.pk, shop_catalog["tea-1"].pk)  # description matches last


def test_price_and_stock_changes_move_facets(
    search, shop_catalog, staff_of, django_capture_on_commit_callbacks
):
    lamb = shop_catalog["lamb-1"]
    variant = ProductVariant.objects.get(product=lamb)
    with django_capture_on_commit_callbacks(execute=True):
        product_variant_update(
            acting_user=staff_of(lamb),
            variant_id=variant.pk,
            data=VariantInput(unit_price=Decimal("45.00")),
        )
    assert "lamb-1" in found(search, shop_catalog, price_bands=("0-50",))
    with django_capture_on_commit_callbacks(execute=True):
        stock_update(acting_user=staff_of(lamb), variant_id=variant.pk, quantity=0)
    assert "lamb-1" in found(search, shop_catalog, in_stock=False)


def test_supplier_suspension_and_exit_take_every_product_out(
    search, shop_catalog, operator, django_capture_on_commit_callbacks
):
    goji = shop_catalog["goji-1"]
    sibling = ProductFactory(
        name="中宁枸杞 头茬 1kg", supplier=goji.supplier, description="", slug="sibling"
    )
    VariantFactory(product=sibling)
    with django_capture_on_commit_callbacks(execute=True):
        indexing.products_changed([sibling.pk])
    assert sibling.pk in search("中宁枸杞").ids
    with django_capture_on_commit_callbacks(execute=True):
        supplier_suspend(acting_user=operator, supplier_id=goji.supplier_id, reason="抽检不合格")
    assert not {goji.pk, sibling.pk} & set(search("中宁枸杞").ids)
    assert ProductSearchEntry.objects.get(pk=sibling.pk).sellable is False
    with django_capture_on_commit_callbacks(execute=True):
        supplier_reinstate(acting_user=operator, supplier_id=goji.supplier_id)
    assert {goji.pk, sibling.pk} <= set(search("中宁枸杞").ids)
    with django_capture_on_commit_callbacks(execute=True):
        supplier_exit(acting_user=operator, supplier_id=goji.supplier_id, reason="退出")
    assert not {goji.pk, sibling.pk} & set(search("中宁枸杞").ids)
    assert not SearchOutbox.objects.exists()


def test_search_sync_reconciles_what_expires_by_date(search, shop_catalog, capsys):
    goji = shop_catalog["goji-1"]
    goji.certified_until = timezone.localdate() + timedelta(days=3)
    goji.save()
    call_command("search_sync")  # indexes the change of date (no service was involved)
    assert goji.pk in search("中宁枸杞").ids
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        call_command("search_sync")
        assert goji.pk not in search("中宁枸杞").ids
        assert ProductSearchEntry.objects.get(pk=goji.pk).sellable is False
        assert "queued 1 stale" in capsys.readouterr().out
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        call_command("search_sync")
        assert search("", gi=True).total == 0
        assert not ProductSearchEntry.objects.filter(gi=True).exists()


def test_search_sync_indexes_products_that_have_no_entry(search, shop_catalog):
    product = ProductFactory(name="固原黄牛 牛腩", description="", slug="beef")
    VariantFactory(product=product)
    assert product.pk not in search("黄牛").ids
    call_command("search_sync")
    assert search("黄牛").ids == [product.pk]


def test_search_reindex_command(shop_catalog, backend_name, capsys):
    product = ProductFactory(name="固原黄牛 牛腱子", description="", slug="beef")
    VariantFactory(product=product)
    backend = get_search_backend()
    if backend_name != "database":
        client = backend.client()
        before = sorted(client.indices.get_alias(name=backend.alias).body)
    call_command("search_reindex")
    out = capsys.readouterr().out
    assert "database search table" in out
    assert ProductSearchEntry.objects.count() == len(shop_catalog.products) + 1
    assert search_ids(backend, "黄牛") == [product.pk]
    if backend_name != "database":
        assert "engine index" in out
        after = sorted(client.indices.get_alias(name=backend.alias).body)
        assert len(after) == 1
        assert after != before
        assert not client.indices.exists(index=before[0])  # the old index is gone
        assert client.count(index=backend.alias)["count"] == len(shop_catalog.products) + 1


def search_ids(backend, text):
    from search.query import SearchRequest

    return backend.search(SearchRequest(text=text)).ids


@pytest.mark.parametrize("backend_name", ["opensearch"], indirect=True)
def test_reindex_catches_up_with_updates_made_while_it_fills(
    shop_catalog, monkeypatch, django_capture_on_commit_callbacks
):
    """An update drained into the old index after the new one was filled, before the alias
    swap, still reaches the new index."""
    backend = get_search_backend()
    client = backend.client()
    potato = shop_catalog["potato-1"]
    real_put_settings = client.indices.put_settings

    def update_when_filled(**kwargs):
        if kwargs["settings"]["index"]["refresh_interval"] is None:  # the fill is done
            potato.description = "枸杞"
            potato.save()
            with django_capture_on_commit_callbacks(execute=True):
                indexing.products_changed([potato.pk])  # drains into the alias: the old index
        return real_put_settings(**kwargs)

    monkeypatch.setattr(client.indices, "put_settings", update_when_filled)
    old = sorted(client.indices.get_alias(name=backend.alias).body)
    backend.reindex()
    assert sorted(client.indices.get_alias(name=backend.alias).body) != old
    assert potato.pk in search_ids(backend, "枸杞")
