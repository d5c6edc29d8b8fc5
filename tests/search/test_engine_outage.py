"""The engine stops mid-run: search keeps answering from the database, and the updates made
meanwhile reach the index once the engine is back and the outbox drains.

This test starts its own OpenSearch node (the session node of tests.searchengine is not
disturbed), stops it, and starts it again on the same data folder and port."""

import subprocess
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.services.products import ProductInput, product_update
from catalog.services.suppliers import supplier_suspend
from search import metrics
from search.backends import get_search_backend, reset_backends
from search.documents import ProductDocument
from search.models import SearchOutbox
from search.query import SearchRequest
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.search.conftest import GOJI, PRODUCTS, ShopCatalog, make_product, use_engine
from tests.searchengine import NODE_DIR, _free_port


class OwnNode:
    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.running = False

    def start(self) -> None:
        started = subprocess.run(
            [str(NODE_DIR / "start.sh"), str(self.root), str(self.port)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if started.returncode != 0:
            pytest.fail(f"own OpenSearch node did not start:\n{started.stdout}\n{started.stderr}")
        self.running = True

    def stop(self) -> None:
        subprocess.run(
            [str(NODE_DIR / "stop.sh"), str(self.root)], capture_output=True, text=True, timeout=90
        )
        self.running = False


@pytest.fixture
def own_node(tmp_path_factory):
    node = OwnNode(tmp_path_factory.mktemp("own-opensearch"))
    node.start()
    yield node
    node.stop()


def search(text):
    return get_search_backend().search(SearchRequest(text=text))


def test_search_survives_the_engine_stopping_and_catches_up_after(
    own_node, settings, db, operator, django_capture_on_commit_callbacks, caplog
):
    use_engine(
        settings,
        own_node.url,
        f"outage-{uuid.uuid4().hex[:8]}",
        SEARCH_ENGINE_IS_OPENSEARCH=True,
        SEARCH_ENGINE_TIMEOUT=3,
    )
    reset_backends()
    catalog = ShopCatalog()
    for n, (key, row) in enumerate(PRODUCTS.items()):
        catalog.products[key] = make_product(key, *row, n)
    backend = get_search_backend()
    backend.rebuild()
    goji = set(GOJI)
    potato, black_goji = catalog["potato-1"], catalog["goji-3"]

    before = search("枸杞")
    assert not before.fallback
    assert set(catalog.keys(before.ids[:3])) == goji

    own_node.stop()
    during = search("gouqi")
    assert during.fallback is True
    assert set(catalog.keys(during.ids)) == goji
    assert metrics.value(metrics.FALLBACKS) == 1
    assert "answering from the database" in caplog.text

    # changes made while the engine is down
    with django_capture_on_commit_callbacks(execute=True):
        product_update(
            acting_user=UserFactory(role=Role.SUPPLIER, supplier=potato.supplier),
            product_id=potato.pk,
            data=ProductInput(description="枸杞产区的马铃薯。"),
        )
    with django_capture_on_commit_callbacks(execute=True):
        supplier_suspend(acting_user=operator, supplier_id=black_goji.supplier_id, reason="抽检")
    assert set(SearchOutbox.objects.values_list("product_id", flat=True)) == {
        potato.pk,
        black_goji.pk,
    }
    assert metrics.value(metrics.INDEX_FAILURES) == 2
    meanwhile = search("枸杞")  # the database already knows
    assert meanwhile.fallback is True
    assert potato.pk in meanwhile.ids
    assert black_goji.pk not in meanwhile.ids

    own_node.start()
    client = backend.client()
    stale = ProductDocument.get(id=black_goji.pk, index=backend.alias, using=client)
    assert stale.sellable is True  # the engine has not heard of the suspension yet

    call_command("search_sync", "--all")
    assert not SearchOutbox.objects.exists()
    after = search("枸杞")
    assert after.fallback is False
    assert potato.pk in after.ids
    assert black_goji.pk not in after.ids
    fresh = ProductDocument.get(id=black_goji.pk, index=backend.alias, using=client)
    assert fresh.sellable is False
    assert "马铃薯" in ProductDocument.get(id=potato.pk, index=backend.alias, using=client).name
    assert metrics.value(metrics.FALLBACKS) == 2
