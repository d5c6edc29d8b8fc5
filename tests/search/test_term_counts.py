"""Facet counts kept per common term (search.term_counts) on PostgreSQL: a search that takes
its total and facets from them finds exactly what visiting every match finds (the same total,
facets, hits and order), and every kind of catalog change is reflected by the next search, in
the same transaction that rewrote the entry. A relaxed query counted per word group equals the
union's counts."""

from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import connection, transaction

from catalog.models import ProductVariant
from catalog.services.products import ProductInput, product_update
from catalog.services.suppliers import supplier_suspend
from catalog.services.variants import VariantInput, product_variant_update
from search import term_counts
from search.backends.database import DatabaseSearchBackend
from search.models import ProductSearchEntry
from search.query import SearchFilters, SearchRequest
from shop.accounts.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.postgres

# one-word queries counted below, and relaxed two-word queries with a counted word
COUNTED_WORDS = ["宁夏", "枸杞", "葡萄酒", "中宁", "gouqi"]
QUERIES = [*COUNTED_WORDS, "枸杞 葡萄酒", "中宁 滩羊", "宁夏 滩羊 葡萄酒"]


@pytest.fixture
def backend_name(settings, db):
    settings.SEARCH_BACKEND = "database"
    return "database"


class Visiting(DatabaseSearchBackend):
    """The database backend without the kept counts: every match visited."""

    def _counted_groups(self, request, terms):
        return None


class Counting(DatabaseSearchBackend):
    """The database backend, recording which searches took the kept counts."""

    def __init__(self):
        super().__init__()
        self.counted = []

    def _search_counted(self, request, terms, groups):
        found = super()._search_counted(request, terms, groups)
        self.counted.append(found is not None)
        return found


@pytest.fixture
def counted(shop_catalog):
    assert term_counts.refresh_counted_terms(share=0, words=COUNTED_WORDS) == len(COUNTED_WORDS)
    yield
    term_counts.forget_hint()


def outcome(results) -> tuple:
    facets = {name: [(v.value, v.count) for v in values] for name, values in results.facets.items()}
    return results.total, results.ids, facets, results.partial


def assert_same_as_visiting(text: str, **filters) -> None:
    counting = Counting()
    for request in (
        SearchRequest(text, SearchFilters(**filters), limit=20),
        SearchRequest(text, SearchFilters(**filters), limit=2, offset=1),
        SearchRequest(text, SearchFilters(**filters), limit=0),
    ):
        assert outcome(counting.search(request)) == outcome(Visiting().search(request)), text
    assert counting.counted, text
    assert all(counting.counted), text


def staff_of(product):
    return UserFactory(role=Role.SUPPLIER, supplier=product.supplier)


@pytest.mark.parametrize("text", QUERIES)
def test_kept_counts_find_what_visiting_every_match_finds(counted, text):
    assert_same_as_visiting(text)


def test_facet_filters_apply_to_the_kept_counts(counted, shop_catalog):
    goji = shop_catalog["goji-1"]
    assert_same_as_visiting("宁夏", counties=(goji.origin_county_id,))
    assert_same_as_visiting("宁夏", categories=(goji.category_id,), gi=True)
    assert_same_as_visiting("枸杞", price_bands=("50-100",))


def test_kept_counts_are_the_counts_of_the_matches(counted):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.query, SUM(f.count) FROM search_termfacetcount f "
            "JOIN search_countedterm t ON t.id = f.term_id GROUP BY t.query"
        )
        kept = dict(cursor.fetchall())
        for query, count in kept.items():
            cursor.execute(
                "SELECT count(*) FROM search_productsearchentry "
                "WHERE sellable AND document @@ %s::tsquery",
                [query],
            )
            assert cursor.fetchone()[0] == count, query


def test_a_change_is_counted_by_the_next_search(
    counted, shop_catalog, operator, django_capture_on_commit_callbacks
):
    potato, wine = shop_catalog["potato-1"], shop_catalog["wine-1"]
    before = DatabaseSearchBackend().search(SearchRequest("枸杞")).total
    # text: a description that now names 枸杞
    with django_capture_on_commit_callbacks(execute=True):
        product_update(
            acting_user=staff_of(potato),
            product_id=potato.pk,
            data=ProductInput(description="与枸杞同产于宁夏的高原马铃薯。"),
        )
    assert DatabaseSearchBackend().search(SearchRequest("枸杞")).total == before + 1
    assert_same_as_visiting("枸杞")
    # price: another price band
    with django_capture_on_commit_callbacks(execute=True):
        product_variant_update(
            acting_user=staff_of(wine),
            variant_id=ProductVariant.objects.get(product=wine).pk,
            data=VariantInput(unit_price=Decimal("45.00")),
        )
    assert_same_as_visiting("葡萄酒")
    assert_same_as_visiting("葡萄酒", price_bands=("0-50",))
    # sellable no more
    with django_capture_on_commit_callbacks(execute=True):
        supplier_suspend(acting_user=operator, supplier_id=wine.supplier_id, reason="抽检不合格")
    assert wine.pk not in DatabaseSearchBackend().search(SearchRequest("葡萄酒")).ids
    assert_same_as_visiting("葡萄酒")
    # an entry deleted
    ProductSearchEntry.objects.filter(pk=potato.pk).delete()
    assert DatabaseSearchBackend().search(SearchRequest("枸杞")).total == before
    assert_same_as_visiting("枸杞")
    assert_same_as_visiting("宁夏")


def test_a_rolled_back_write_leaves_the_counts(counted):
    request = SearchRequest("宁夏")
    before = outcome(DatabaseSearchBackend().search(request))
    inside = []

    def hide_everything_then_fail():
        with transaction.atomic():
            ProductSearchEntry.objects.update(sellable=False)
            inside.append(DatabaseSearchBackend().search(request).total)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        hide_everything_then_fail()
    assert inside == [0]
    assert outcome(DatabaseSearchBackend().search(request)) == before


def test_a_term_no_longer_counted_is_searched_by_visiting(counted):
    request = SearchRequest("枸杞")
    expected = outcome(Visiting().search(request))
    backend = Counting()
    backend.search(request)
    held = term_counts._hint  # this process's list of counted terms, with 枸杞
    term_counts.refresh_counted_terms(share=0, words=["宁夏"])  # as another process would
    term_counts._hint = held  # not read again yet
    assert outcome(backend.search(request)) == expected
    assert backend.counted == [True, False]


def test_nothing_is_counted_without_counted_terms(shop_catalog):
    term_counts.refresh_counted_terms(share=0, words=[])
    backend = Counting()
    backend.search(SearchRequest("宁夏"))
    assert backend.counted == []


def test_plain_filters_and_other_sorts_visit_the_matches(counted):
    backend = Counting()
    backend.search(SearchRequest("宁夏", SearchFilters(in_stock=True)))
    backend.search(SearchRequest("宁夏", sort="price"))
    backend.search(SearchRequest("宁夏", offset=200))
    backend.search(replace(SearchRequest("宁夏"), filters=SearchFilters(price_min=Decimal(1))))
    assert backend.counted == []
