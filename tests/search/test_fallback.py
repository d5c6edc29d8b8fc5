"""An Elasticsearch backend whose engine is unreachable: searches are answered from the database
(logged as a warning and counted), index updates stay in the outbox with a growing back-off.
Needs no engine (nothing listens on the port), so it also runs in the SQLite smoke suite."""

import logging
import socket

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.services.products import ProductInput, product_update
from search import indexing, metrics
from search.backends import get_search_backend, reset_backends
from search.models import SearchOutbox
from search.query import SearchRequest
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.search.conftest import GOJI, use_engine

pytestmark = pytest.mark.smoke


@pytest.fixture
def backend_name(settings, db):
    """The catalog is indexed by the database backend; the tests then switch to a dead engine."""
    settings.SEARCH_BACKEND = "database"
    reset_backends()
    yield "database"
    reset_backends()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: nothing listens there


@pytest.fixture
def dead_engine(settings, shop_catalog):
    use_engine(
        settings,
        f"http://127.0.0.1:{closed_port()}",
        "dead-products",
        SEARCH_ENGINE_IS_OPENSEARCH=True,
        SEARCH_ENGINE_TIMEOUT=2,
    )
    reset_backends()
    return get_search_backend()


def test_search_answers_from_the_database_and_says_so(dead_engine, shop_catalog, caplog, gql):
    assert dead_engine.name == "elasticsearch"
    with caplog.at_level(logging.WARNING, logger="search"):
        results = dead_engine.search(SearchRequest(text="gouqi"))
    assert results.fallback is True
    assert set(shop_catalog.keys(results.ids)) == set(GOJI)
    assert results.facets["gi"]
    assert "unavailable" in caplog.text
    assert "answering from the database" in caplog.text
    assert metrics.value(metrics.FALLBACKS) == 1
    suggestions = dead_engine.suggest("zhongn")
    assert {s.product_id for s in suggestions} == shop_catalog.ids("goji-1", "goji-2")
    assert metrics.value(metrics.FALLBACKS) == 2
    data = gql('{ search(query: "中宁枸杞") { totalCount edges { node { name } } } }')
    assert data["data"]["search"]["totalCount"] == 2
    assert metrics.value(metrics.FALLBACKS) == 3


def test_after_a_failure_the_engine_is_skipped_for_a_while(settings, dead_engine, monkeypatch):
    settings.SEARCH_ENGINE_RETRY_SECONDS = 60
    reset_backends()
    backend = get_search_backend()
    assert backend.search(SearchRequest(text="枸杞")).fallback
    monkeypatch.setattr(backend, "_search", lambda request: pytest.fail("engine was asked"))
    assert backend.search(SearchRequest(text="枸杞")).fallback
    assert metrics.value(metrics.FALLBACKS) == 2


def test_index_updates_wait_in_the_outbox_with_back_off(
    dead_engine, shop_catalog, django_capture_on_commit_callbacks, capsys
):
    potato = shop_catalog["potato-1"]
    staff = UserFactory(role=Role.SUPPLIER, supplier=potato.supplier)
    with django_capture_on_commit_callbacks(execute=True):
        product_update(
            acting_user=staff,
            product_id=potato.pk,
            data=ProductInput(description="配枸杞炖煮更佳。"),
        )
    (row,) = SearchOutbox.objects.all()
    assert row.product_id == potato.pk
    assert row.attempts == 1
    assert row.next_attempt_at > timezone.now()
    assert "index update failed" in row.last_error
    assert metrics.value(metrics.INDEX_FAILURES) == 1
    # the database index already has the change, so the fallback search sees it
    assert potato.pk in dead_engine.search(SearchRequest(text="枸杞")).ids

    call_command("search_sync", "--no-reconcile")  # not due yet: nothing is attempted
    row.refresh_from_db()
    assert row.attempts == 1
    call_command("search_sync", "--all", "--no-reconcile")
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at > timezone.now()
    assert [indexing._backoff(n).total_seconds() for n in (1, 2, 3, 10)] == [5, 10, 20, 300]
    out = capsys.readouterr().out
    assert "deferred 1" in out
    assert "outbox pending: 1" in out
    assert "outbox failing: 1" in out
    assert "reachable: False" in out
    assert "index_failures: 2" in out
