"""Keyset pagination: every order visits every row exactly once, cursors belong to one
connection and order, a page is one SELECT and the COUNT runs only when totalCount is asked."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product
from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.factories.catalog import ProductFactory, SupplierFactory, VariantFactory
from tests.factories.procurement import AgencyFactory

pytestmark = pytest.mark.smoke

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $sort: ProductOrder) {
  products(first: $first, after: $after, last: $last, before: $before, sortBy: $sort) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

SORTS = [
    {"field": field, "direction": direction}
    for field in ("NAME", "PRICE", "CREATED")
    for direction in ("ASC", "DESC")
]


@pytest.fixture
def catalog(db) -> list[int]:
    """Eleven sellable products whose names, prices and creation times repeat, and two
    without any variant (no price: NULL in the PRICE order)."""
    supplier = SupplierFactory()
    created = timezone.now() - timedelta(days=1)
    ids = []
    for n in range(11):
        product = ProductFactory(supplier=supplier, name=f"枸杞{n % 3}")
        Product.objects.filter(pk=product.pk).update(created_at=created + timedelta(hours=n % 2))
        if n < 9:
            VariantFactory(product=product, unit_price=Decimal("10.00") * (1 + n % 4))
        ids.append(product.pk)
    return ids


def walk_forwards(gql, sort: dict, size: int) -> list[str]:
    seen, after = [], None
    while True:
        page = gql(PAGE, {"first": size, "after": after, "sort": sort})["data"]["products"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


def walk_backwards(gql, sort: dict, size: int) -> list[str]:
    seen, before = [], None
    while True:
        page = gql(PAGE, {"last": size, "before": before, "sort": sort})["data"]["products"]
        seen = [edge["node"]["id"] for edge in page["edges"]] + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            return seen
        before = page["pageInfo"]["startCursor"]


@pytest.mark.parametrize("sort", SORTS, ids=lambda s: f"{s['field']}-{s['direction']}")
@pytest.mark.parametrize("size", [1, 2, 4])
def test_paging_forwards_visits_every_product_once_in_the_listing_order(gql, catalog, sort, size):
    whole = gql(PAGE, {"first": 100, "sort": sort})["data"]["products"]["edges"]
    listing = [edge["node"]["id"] for edge in whole]
    assert len(listing) == len(catalog) == len(set(listing))
    assert walk_forwards(gql, sort, size) == listing


@pytest.mark.parametrize("sort", SORTS, ids=lambda s: f"{s['field']}-{s['direction']}")
def test_paging_backwards_visits_every_product_once_in_the_listing_order(gql, catalog, sort):
    whole = gql(PAGE, {"first": 100, "sort": sort})["data"]["products"]["edges"]
    assert walk_backwards(gql, sort, 3) == [edge["node"]["id"] for edge in whole]


def test_products_without_a_price_come_last_in_both_price_orders(gql, catalog):
    for direction in ("ASC", "DESC"):
        sort = {"field": "PRICE", "direction": direction}
        names = walk_forwards(gql, sort, 2)
        unpriced = set(catalog[9:])
        assert {int(_pk(gid)) for gid in names[-2:]} == unpriced


def _pk(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().partition(":")[2]


def test_a_cursor_of_another_sort_order_is_refused(gql, catalog):
    by_name = gql(PAGE, {"first": 2, "sort": SORTS[0]})["data"]["products"]
    response = gql(PAGE, {"first": 2, "after": by_name["pageInfo"]["endCursor"], "sort": SORTS[1]})
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert response["data"] is None or response["data"]["products"] is None


def test_a_cursor_of_another_connection_is_refused(gql, catalog, operator):
    AgencyFactory()
    users = gql("{ users(first: 1) { pageInfo { endCursor } } }", user=operator)
    cursor = users["data"]["users"]["pageInfo"]["endCursor"]
    response = gql(PAGE, {"first": 2, "after": cursor})
    assert top_level_codes(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("connection_query", ["users", "agencies", "auditEvents"])
def test_other_connections_page_through_every_row_once(gql, operator, connection_query):
    for n in range(5):
        user = UserFactory(email=f"same{n % 2}-{n}@example.com")
        AgencyFactory()
        # audit events with equal timestamps: the id breaks the tie
        gql(
            'mutation($id: ID!) { userDeactivate(id: $id, reason: "test") { errors { code } } }',
            {"id": _global("User", user.pk)},
            user=operator,
        )
    query = (
        f"query($after: String) {{ {connection_query}(first: 2, after: $after) "
        "{ totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    seen, after = [], None
    while True:
        page = gql(query, {"after": after}, user=operator)["data"][connection_query]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == page["totalCount"] > 2


def _global(type_name: str, pk: int) -> str:
    from graphql_relay import to_global_id

    return to_global_id(type_name, pk)


def _selects(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]


def test_a_page_without_total_count_runs_no_count(gql, catalog):
    gql(PAGE, {"first": 2})  # warm up anything loaded once per process
    with CaptureQueriesContext(connection) as queries:
        first = gql(PAGE, {"first": 3})["data"]["products"]
        gql(PAGE, {"first": 3, "after": first["pageInfo"]["endCursor"]})
    sql = _selects(queries.captured_queries)
    assert len(sql) == 2
    assert not any("COUNT(" in statement.upper() for statement in sql)


def test_total_count_is_one_count_when_selected(gql, catalog):
    query = "{ products(first: 3) { totalCount edges { node { name } } } }"
    with CaptureQueriesContext(connection) as queries:
        data = gql(query)["data"]["products"]
    assert data["totalCount"] == len(catalog)
    counts = [s for s in _selects(queries.captured_queries) if "COUNT(" in s.upper()]
    assert len(counts) == 1


def test_a_deep_page_costs_the_same_queries_as_the_first(gql, catalog):
    query = """query($after: String) { products(first: 2, after: $after) {
      edges { node { name variants { sku } images { url } category { name } } }
      pageInfo { endCursor } } }"""
    with CaptureQueriesContext(connection) as first_page:
        data = gql(query)["data"]["products"]
    after = data["pageInfo"]["endCursor"]
    for _ in range(3):
        after = gql(query, {"after": after})["data"]["products"]["pageInfo"]["endCursor"]
    with CaptureQueriesContext(connection) as deep_page:
        gql(query, {"after": after})
    assert len(deep_page.captured_queries) == len(first_page.captured_queries) <= 4
    assert not any(" OFFSET " in q["sql"].upper() for q in deep_page.captured_queries)


def test_a_deep_page_reads_the_first_sort_key_as_a_range_from_its_cursor(gql, catalog):
    """The OR of the keyset alternatives is not an index range; the implied `name >= cursor's
    name` beside it is, so a deep page does not filter every row before its cursor."""
    query = """query($after: String) { products(first: 2, after: $after, sortBy: {field: NAME,
      direction: DESC}) { edges { node { name } } pageInfo { endCursor } } }"""
    after = gql(query)["data"]["products"]["pageInfo"]["endCursor"]
    with CaptureQueriesContext(connection) as page:
        gql(query, {"after": after})
    (statement,) = [s for s in _selects(page.captured_queries) if '"catalog_product"."name"' in s]
    assert '"catalog_product"."name" <= ' in statement
