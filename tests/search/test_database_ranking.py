"""The database backend ranks a bounded candidate set (search.backends.database.
RANKED_CANDIDATES): counts and facets still cover every match, pages past the candidates go on
without repeats or gaps, and the candidates are the entries with every word in the name first
(relaxed queries: the entries matching most words). The bound is lowered here so that a small
catalog crosses it; PostgreSQL in the normal run, SQLite FTS5 in the smoke run."""

from decimal import Decimal

import pytest

from search.backends import database, get_search_backend, reset_backends
from search.query import SearchFilters, SearchRequest
from tests.factories import ProductFactory, SupplierFactory, VariantFactory
from tests.factories.catalog import category

pytestmark = pytest.mark.smoke


@pytest.fixture
def backend(settings, db):
    settings.SEARCH_BACKEND = "database"
    reset_backends()
    yield get_search_backend()
    reset_backends()


def product(name: str, description: str = "", slug: str = "goji", price: str = "50.00"):
    item = ProductFactory(
        name=name,
        description=description,
        category=category(slug),
        supplier=SupplierFactory(name=f"测试供应商 {name}"),
    )
    VariantFactory(product=item, unit_price=Decimal(price))
    return item


@pytest.fixture
def catalog(backend):
    """Eight entries about goji in their long text only, created first (lower ids), then
    three with goji in the name, one of them also about wine."""
    described = [
        product(f"八宝茶 {n}号", "配料：枸杞、红枣、桂圆。", "green-food", f"{30 + n}.00")
        for n in range(8)
    ]
    named = [
        product("中宁枸杞 特级干果", price="68.00"),
        product("黑枸杞 精选", price="120.00"),
        product("枸杞干红葡萄酒", slug="wine", price="298.00"),
    ]
    backend.rebuild()
    return described, named


def request(text: str, **options) -> SearchRequest:
    filters = SearchFilters(**options.pop("filters", {}))
    return SearchRequest(text, filters, **{"limit": 20, **options})


def as_dicts(facets) -> dict:
    return {name: [(v.value, v.count) for v in values] for name, values in facets.items()}


def test_counts_and_facets_cover_every_match_when_ranking_is_bounded(backend, catalog, monkeypatch):
    unbounded = backend.search(request("枸杞"))
    monkeypatch.setattr(database, "RANKED_CANDIDATES", 2)
    bounded = backend.search(request("枸杞"))
    assert bounded.total == unbounded.total == 11
    assert as_dicts(bounded.facets) == as_dicts(unbounded.facets)
    assert dict(as_dicts(bounded.facets)["category"]) == {
        str(category("green-food").pk): 8,
        str(category("goji").pk): 2,
        str(category("wine").pk): 1,
    }


def test_facet_counts_are_exact_under_a_facet_filter_when_ranking_is_bounded(
    backend, catalog, monkeypatch
):
    monkeypatch.setattr(database, "RANKED_CANDIDATES", 2)
    goji = category("goji").pk
    results = backend.search(request("枸杞", filters={"categories": (goji,)}))
    assert results.total == 2
    assert len(results.hits) == 2
    # disjunctive: the category facet still counts the other categories
    assert dict(as_dicts(results.facets)["category"])[str(category("green-food").pk)] == 8


def test_the_name_matches_are_the_ranked_candidates(backend, catalog, monkeypatch):
    _described, named = catalog
    monkeypatch.setattr(database, "RANKED_CANDIDATES", 3)
    results = backend.search(request("枸杞", limit=3))
    assert set(results.ids) == {p.pk for p in named}
    scores = [hit.score for hit in results.hits]
    assert scores == sorted(scores, reverse=True)


def test_pages_past_the_ranked_candidates_go_on_without_repeats_or_gaps(
    backend, catalog, monkeypatch
):
    described, named = catalog
    monkeypatch.setattr(database, "RANKED_CANDIDATES", 4)
    seen = []
    for offset in range(0, 12, 3):  # pages of 3 across the bound of 4
        page = backend.search(request("枸杞", offset=offset, limit=3, facets=False))
        assert page.total == 11
        seen += page.ids
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == {p.pk for p in described + named}
    assert set(seen[:3]) == {p.pk for p in named}
    # one page across the bound is the same as the two pages it spans
    across = backend.search(request("枸杞", offset=3, limit=3, facets=False))
    assert across.ids == seen[3:6]


def test_relaxed_candidates_are_the_entries_matching_most_words(backend, catalog, monkeypatch):
    _described, named = catalog
    monkeypatch.setattr(database, "RANKED_CANDIDATES", 1)
    results = backend.search(request("枸杞 葡萄酒 赤霞珠", match_any=True))
    assert results.ids[0] == named[2].pk  # goji and wine
