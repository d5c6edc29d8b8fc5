"""`search`, `products(search:)`, `searchSuggestions` and `searchStatus` over /graphql/, on every
backend; query counts independent of the page size."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from catalog.models import ProductStatus
from search.backends import get_search_backend
from search.query import SearchRequest
from tests.conftest import top_level_codes
from tests.factories import ProductFactory, SupplierFactory, VariantFactory
from tests.search.conftest import GOJI

SEARCH = """
query($q: String!, $filter: ProductFilterInput, $bands: [String!], $first: Int, $after: String,
      $sort: ProductOrder) {
  search(query: $q, filter: $filter, priceBands: $bands, first: $first, after: $after,
         sortBy: $sort) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor score node { name slug hasGi category { name } originCounty { name } } }
    facets { field values { value label count selected } }
  }
}"""


def run(gql, query, **variables):
    response = gql(SEARCH, {"q": query, **variables})
    assert "errors" not in response, response
    return response["data"]["search"]


def names(data) -> list[str]:
    return [edge["node"]["name"] for edge in data["edges"]]


def facet(data, field) -> dict:
    (found,) = [f for f in data["facets"] if f["field"] == field]
    return {v["label"]: v for v in found["values"]}


def test_search_returns_goji_first_with_scores_and_facets(gql, shop_catalog):
    data = run(gql, "gouqi")
    goji_names = {shop_catalog[key].name for key in GOJI}
    assert data["totalCount"] == 3
    assert set(names(data)) == goji_names
    scores = [edge["score"] for edge in data["edges"]]
    assert all(score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert [f["field"] for f in data["facets"]] == ["CATEGORY", "COUNTY", "GI", "PRICE_BAND"]
    assert facet(data, "CATEGORY")["枸杞"]["count"] == 3
    assert facet(data, "CATEGORY")["枸杞"]["value"] == to_global_id(
        "Category", shop_catalog["goji-1"].category_id
    )
    assert facet(data, "COUNTY")["中宁县"]["count"] == 2
    assert facet(data, "COUNTY")["同心县"]["count"] == 1
    assert {label: v["count"] for label, v in facet(data, "GI").items()} == {
        "地理标志产品": 2,
        "非地理标志产品": 1,
    }
    assert list(facet(data, "PRICE_BAND")) == [
        "50元以下",
        "50–100元",
        "100–200元",
        "200–500元",
        "500元以上",
    ]
    assert [v["count"] for v in facet(data, "PRICE_BAND").values()] == [1, 1, 1, 0, 0]


def test_a_facet_value_is_a_filter(gql, shop_catalog):
    county = facet(run(gql, "枸杞"), "COUNTY")["中宁县"]
    data = run(gql, "枸杞", filter={"counties": [county["value"]]})
    assert data["totalCount"] == 2
    assert facet(data, "COUNTY")["中宁县"]["selected"] is True
    assert facet(data, "COUNTY")["同心县"]["selected"] is False
    band = facet(data, "PRICE_BAND")["50–100元"]
    narrowed = run(gql, "枸杞", filter={"counties": [county["value"]]}, bands=[band["value"]])
    assert names(narrowed) == [shop_catalog["goji-1"].name]
    assert run(gql, "", filter={"hasGi": False})["totalCount"] == 3


def test_a_product_that_stopped_being_sellable_is_never_shown(gql, shop_catalog):
    """Even before its index entry is rewritten, hits are loaded through the storefront rule."""
    goji = shop_catalog["goji-1"]
    goji.status = ProductStatus.DRAFT
    goji.save()  # no service: nothing queued, the index still lists it
    assert goji.pk in get_search_backend().search(SearchRequest(text="中宁枸杞")).ids
    assert goji.name not in names(run(gql, "中宁枸杞"))
    products = gql(PRODUCTS, {"q": "中宁枸杞"})["data"]["products"]["edges"]
    assert goji.name not in [edge["node"]["name"] for edge in products]


def test_paging_with_cursors(gql, shop_catalog):
    first = run(gql, "", first=4, sort={"field": "PRICE"})
    assert first["totalCount"] == 9
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    second = run(gql, "", first=4, after=first["pageInfo"]["endCursor"], sort={"field": "PRICE"})
    assert second["pageInfo"]["hasPreviousPage"] is True
    everything = run(gql, "", first=9, sort={"field": "PRICE"})
    assert names(first) + names(second) == names(everything)[:8]
    assert all(edge["score"] is None for edge in everything["edges"])


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"first": 101}, "BAD_USER_INPUT"),
        ({"after": "not-a-cursor"}, "BAD_USER_INPUT"),
        ({"bands": ["cheap"]}, "BAD_USER_INPUT"),
        ({"filter": {"counties": ["Q2F0ZWdvcnk6MQ=="]}}, "BAD_USER_INPUT"),
    ],
)
def test_bad_arguments(gql, shop_catalog, variables, code):
    assert top_level_codes(gql(SEARCH, {"q": "枸杞", **variables})) == [code]


def test_overlong_query_is_refused(gql, shop_catalog):
    assert top_level_codes(gql(SEARCH, {"q": "枸" * 101})) == ["BAD_USER_INPUT"]


PRODUCTS = """
query($q: String, $sort: ProductOrder, $first: Int, $after: String) {
  products(search: $q, sortBy: $sort, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { name } }
  }
}"""


def test_products_search_uses_the_backend(gql, shop_catalog):
    data = gql(PRODUCTS, {"q": "gq", "first": 2})["data"]["products"]
    assert data["totalCount"] == 3
    assert {edge["node"]["name"] for edge in data["edges"]} <= {
        shop_catalog[key].name for key in GOJI
    }
    rest = gql(PRODUCTS, {"q": "gq", "first": 2, "after": data["pageInfo"]["endCursor"]})
    assert len(rest["data"]["products"]["edges"]) == 1
    by_price = gql(PRODUCTS, {"q": "枸杞", "sort": {"field": "PRICE", "direction": "DESC"}})
    assert [edge["node"]["name"] for edge in by_price["data"]["products"]["edges"]] == [
        shop_catalog[key].name for key in ("goji-2", "goji-1", "goji-3", "tea-1")
    ]
    relevance = gql(PRODUCTS, {"q": "枸杞", "sort": {"field": "RELEVANCE"}})
    assert relevance["data"]["products"]["edges"][-1]["node"]["name"] == shop_catalog["tea-1"].name


SUGGEST = """query($q: String!, $first: Int) {
  searchSuggestions(query: $q, first: $first) { text product { name slug category { name } } }
}"""


def test_search_suggestions(gql, shop_catalog):
    data = gql(SUGGEST, {"q": "zhongn", "first": 5})["data"]["searchSuggestions"]
    assert {s["text"] for s in data} == {shop_catalog[k].name for k in ("goji-1", "goji-2")}
    assert all(s["product"]["name"] == s["text"] for s in data)
    assert gql(SUGGEST, {"q": "hls", "first": 1})["data"]["searchSuggestions"][0]["product"][
        "category"
    ] == {"name": "葡萄酒"}
    assert top_level_codes(gql(SUGGEST, {"q": "g", "first": 500})) == ["BAD_USER_INPUT"]


STATUS = """{ searchStatus { backend databaseMethod entries outboxPending outboxFailing
  engine { reachable distribution index documents }
  fallbacks { value lastAt lastDetail } indexFailures { value } } }"""


def test_search_status_is_for_operators_and_auditors(gql, shop_catalog, operator, backend_name):
    assert top_level_codes(gql(STATUS)) == ["UNAUTHENTICATED"]
    data = gql(STATUS, user=operator)["data"]["searchStatus"]
    assert data["backend"] == ("database" if backend_name == "database" else "elasticsearch")
    assert data["entries"] == len(shop_catalog.products)
    assert data["outboxPending"] == 0
    assert data["fallbacks"]["value"] == 0
    if backend_name == "database":
        assert data["engine"] is None
        assert data["databaseMethod"] in ("postgresql tsvector", "sqlite fts5")
    else:
        assert data["engine"]["reachable"] is True
        assert data["engine"]["distribution"] == "opensearch"
        assert data["engine"]["documents"] == len(shop_catalog.products)


LISTING = """query($first: Int) {
  search(query: "枸杞", first: $first) {
    totalCount
    edges { score node {
      name hasGi isPovertyCountyProduct category { name } originCounty { name }
      supplier { name county { name } } priceRange { start { amount } }
      variants { sku unitPrice { amount } tiers { minQuantity } } images { url } authorizations { name }
    } }
    facets { field values { value label count } }
  }
}"""


def test_search_costs_the_same_queries_for_10_and_50_results(gql, backend_name):
    for n in range(60):
        supplier = SupplierFactory(name=f"山海测试供应商{n % 7}号")
        product = ProductFactory(name=f"中宁枸杞 {n}号", supplier=supplier, description="")
        VariantFactory(product=product, unit_price=Decimal(20 + n))
    get_search_backend().rebuild()
    gql(LISTING, {"first": 1})  # one-time work (e.g. checking for FTS5) is not per page
    measured = {}
    for first in (10, 50):
        with CaptureQueriesContext(connection) as queries:
            data = gql(LISTING, {"first": first})
        assert "errors" not in data, data
        assert len(data["data"]["search"]["edges"]) == first
        measured[first] = len(queries)
    assert measured[10] == measured[50], measured
