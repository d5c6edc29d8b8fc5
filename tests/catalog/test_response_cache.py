"""The storefront response cache is never stale: after each kind of change the next anonymous
read shows it, while reads with nothing changed in between are answered from the cache.

These tests commit (transactional_db): inside a test transaction the cache is bypassed, as it
is for any read inside a transaction.
"""

import hashlib
import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, SupplierStatus
from catalog.services import product_images
from catalog.services import products as product_services
from catalog.services import suppliers as supplier_services
from catalog.services import variants as variant_services
from procurement.services.orders import order_cancel
from search import indexing
from search.models import SynonymRule
from tests.catalog.documents import jpeg_bytes
from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.factories.catalog import GIFactory, TraceBatchFactory
from tests.pgserver import _free_port
from tests.procurement.flows import buyer, place, staff_of, stocked_variant

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LISTING = """{ products(first: 20) { edges { node {
  name hasGi category { name } images { url }
  variants { sku unitPrice { amount } quantityAvailable }
} } } }"""


def read(client: Client, query: str = LISTING, **headers) -> tuple[dict, str | None]:
    response = client.post(
        "/graphql/", json.dumps({"query": query}), content_type="application/json", **headers
    )
    assert response.status_code == 200, response.content
    return response.json(), response.get("X-Response-Cache")


def cached_read(client: Client, query: str = LISTING) -> dict:
    """Read twice: the second answer must come from the cache and equal the first."""
    first, _state = read(client, query)
    second, state = read(client, query)
    assert state == "hit"
    assert second == first
    return second


def names(data: dict) -> list[str]:
    return [edge["node"]["name"] for edge in data["data"]["products"]["edges"]]


def only_product(data: dict) -> dict:
    (edge,) = data["data"]["products"]["edges"]
    return edge["node"]


def edit(staff, product_id: int, **fields) -> None:
    product_services.product_update(
        acting_user=staff, product_id=product_id, data=product_services.ProductInput(**fields)
    )


def add_image(staff, product_id: int) -> None:
    product_images.product_image_create(
        acting_user=staff,
        product_id=product_id,
        data=jpeg_bytes(),
        filename="goji.jpg",
        content_type="image/jpeg",
    )


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def variant(transactional_db):
    return stocked_variant(stock=100, price="100.00", name="中宁枸杞")


@pytest.fixture
def staff(variant):
    return staff_of(variant.product.supplier)


def test_an_unchanged_catalog_is_answered_from_the_cache_with_one_query(client, variant):
    read(client)
    with CaptureQueriesContext(connection) as queries:
        data, state = read(client)
    assert state == "hit"
    assert names(data) == ["中宁枸杞"]
    assert len(queries.captured_queries) == 1  # the catalog version


def test_a_product_edit_shows_at_once(client, variant, staff):
    cached_read(client)
    edit(staff, variant.product_id, description="新的描述")
    edit(staff, variant.product_id, is_published=False)
    data, state = read(client)
    assert state == "miss"
    assert names(data) == []


def test_a_new_variant_shows_at_once(client, variant, staff):
    cached_read(client)
    variant_services.product_variant_create(
        acting_user=staff,
        product_id=variant.product_id,
        data=variant_services.VariantInput(
            sku="NEW-1", spec="1kg", unit="袋", unit_price=Decimal("50.00"), stock=5
        ),
    )
    skus = {v["sku"] for v in only_product(read(client)[0])["variants"]}
    assert "NEW-1" in skus


def test_a_price_change_shows_at_once(client, variant, staff):
    cached_read(client)
    variant_services.product_variant_update(
        acting_user=staff,
        variant_id=variant.pk,
        data=variant_services.VariantInput(unit_price=Decimal("88.00")),
    )
    (shown,) = only_product(read(client)[0])["variants"]
    assert shown["unitPrice"]["amount"] == "88.00"


def test_stock_taken_by_a_checkout_and_given_back_by_a_cancel_shows_at_once(client, variant):
    cached_read(client)
    agency_user = buyer()
    (order,) = place(agency_user, (variant, 30))
    (shown,) = only_product(read(client)[0])["variants"]
    assert shown["quantityAvailable"] == 70
    cached_read(client)
    order_cancel(acting_user=agency_user, order_id=order.pk, reason="买错了")
    (shown,) = only_product(read(client)[0])["variants"]
    assert shown["quantityAvailable"] == 100


STOCK_LISTING = """query ($f: ProductFilterInput) { products(first: 20, filter: $f) { edges {
  node { name variants { sku mine: quantityAvailable inStock } } } } }"""


def read_with(client: Client, query: str, variables: dict) -> tuple[dict, str | None]:
    response = client.post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json(), response.get("X-Response-Cache")


def test_a_checkout_keeps_the_listing_cached_and_its_stock_is_read_fresh(client, variant):
    cached_read(client)
    place(buyer(), (variant, 30))
    with CaptureQueriesContext(connection) as queries:
        data, state = read(client)
    assert state == "hit"
    (shown,) = only_product(data)["variants"]
    assert shown["quantityAvailable"] == 70
    assert len(queries.captured_queries) == 2  # the versions, the page's stock


def test_stock_below_the_minimum_order_shows_out_of_stock_at_once_under_an_alias(
    client, transactional_db
):
    variant = stocked_variant(stock=10, moq=5, name="盐池滩羊")
    first, _state = read_with(client, STOCK_LISTING, {})
    place(buyer(), (variant, 6))
    data, state = read_with(client, STOCK_LISTING, {})
    assert state == "hit"
    (before,) = only_product(first)["variants"]
    (after,) = only_product(data)["variants"]
    assert before == {"sku": variant.sku, "mine": 10, "inStock": True}
    assert after == {"sku": variant.sku, "mine": 4, "inStock": False}


@pytest.mark.parametrize("literal", [True, False])
def test_an_in_stock_filter_drops_a_product_sold_out_at_once(client, variant, literal):
    if literal:
        query, variables = LISTING.replace("first: 20", "first: 20, filter: {inStock: true}"), {}
    else:
        query, variables = STOCK_LISTING, {"f": {"inStock": True}}
    first, _state = read_with(client, query, variables)
    assert len(first["data"]["products"]["edges"]) == 1
    place(buyer(), (variant, 100))
    data, state = read_with(client, query, variables)
    assert state == "miss"
    assert data["data"]["products"]["edges"] == []


def test_a_new_image_shows_at_once(client, variant, staff, media_in_tmp):
    cached_read(client)
    add_image(staff, variant.product_id)
    assert len(only_product(read(client)[0])["images"]) == 1


def test_a_gi_authorisation_shows_at_once(client, variant):
    cached_read(client)
    GIFactory(product=variant.product)
    assert only_product(read(client)[0])["hasGi"] is True


def test_a_material_change_withdrawing_the_certification_shows_at_once(client, variant, staff):
    cached_read(client)
    edit(staff, variant.product_id, name="中宁枸杞（新包装）")
    assert names(read(client)[0]) == []


@pytest.mark.parametrize("withdraw", ["supplier_suspend", "supplier_exit"])
def test_a_supplier_suspended_or_exited_disappears_at_once(client, variant, operator, withdraw):
    cached_read(client)
    getattr(supplier_services, withdraw)(
        acting_user=operator, supplier_id=variant.product.supplier_id, reason="抽检不合格"
    )
    assert variant.product.supplier.__class__.objects.get().status in (
        SupplierStatus.SUSPENDED,
        SupplierStatus.EXITED,
    )
    assert names(read(client)[0]) == []


def test_reference_data_shows_at_once(client, variant):
    query = "{ categories { name } }"
    cached_read(client, query)
    Category.objects.filter(pk=variant.product.category_id).update(name="枸杞及其制品")
    assert {"name": "枸杞及其制品"} in read(client, query)[0]["data"]["categories"]


def test_a_trace_batch_shows_at_once(client, variant):
    query = '{ traceBatch(code: "NX-TEST-1") { code } }'
    assert cached_read(client, query) == {"data": {"traceBatch": None}}
    TraceBatchFactory(product=variant.product, code="NX-TEST-1")
    assert read(client, query)[0] == {"data": {"traceBatch": {"code": "NX-TEST-1"}}}


def test_expiry_by_business_date_needs_no_write(client, variant):
    product = variant.product
    expires = product.certified_until
    with time_machine.travel(f"{expires.isoformat()} 23:00:00+08:00", tick=False):
        assert names(cached_read(client)) == ["中宁枸杞"]
    with time_machine.travel(f"{(expires + timedelta(days=1)).isoformat()} 00:01:00+08:00"):
        data, state = read(client)
    assert state == "miss"
    assert names(data) == []


def test_signed_in_reads_are_never_cached(client, variant):
    token_user = UserFactory()
    from shop.accounts.tokens import create_access_token

    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(token_user)}"}
    read(client, **headers)
    _data, state = read(client, **headers)
    assert state is None


def test_reads_outside_the_storefront_are_never_cached(client, variant):
    query = "{ products(first: 1) { edges { node { name } } } me { email } }"
    read(client, query)
    assert read(client, query)[1] is None


def test_mutations_are_never_cached(client, variant):
    mutation = 'mutation { tokenCreate(email: "x@example.com", password: "y") { token } }'
    for _ in range(2):
        response = client.post(
            "/graphql/", json.dumps({"query": mutation}), content_type="application/json"
        )
        assert response.get("X-Response-Cache") is None


# --- HTTP GET, ETags and persisted queries -------------------------------------------------


def test_a_storefront_get_has_an_etag_and_revalidates_with_304(client, variant):
    first = client.get("/graphql/", {"query": LISTING})
    assert first.status_code == 200
    assert first["Cache-Control"] == "public, no-cache"
    etag = first["ETag"]
    again = client.get("/graphql/", {"query": LISTING}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag


def test_after_a_change_the_old_etag_gets_the_new_answer(client, variant):
    etag = client.get("/graphql/", {"query": LISTING})["ETag"]
    variant.product.supplier.__class__.objects.update(status=SupplierStatus.SUSPENDED)
    response = client.get("/graphql/", {"query": LISTING}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert names(response.json()) == []


def test_a_mutation_over_get_is_still_refused(client, variant):
    mutation = 'mutation { tokenCreate(email: "x@example.com", password: "y") { token } }'
    response = client.get("/graphql/", {"query": mutation})
    assert response.status_code == 405
    assert top_level_codes(response.json()) == ["METHOD_NOT_ALLOWED"]


def persisted(query: str | None, digest: str) -> dict:
    params = {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})}
    if query is not None:
        params["query"] = query
    return params


def test_a_query_is_sent_by_hash_after_it_was_sent_once_with_it(client, variant):
    digest = hashlib.sha256(LISTING.encode()).hexdigest()
    unknown = client.get("/graphql/", persisted(None, digest))
    assert top_level_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert client.get("/graphql/", persisted(LISTING, digest)).status_code == 200
    by_hash = client.get("/graphql/", persisted(None, digest))
    assert by_hash.status_code == 200
    assert names(by_hash.json()) == ["中宁枸杞"]
    assert by_hash["X-Response-Cache"] == "hit"


def test_a_query_that_does_not_match_its_hash_is_refused(client, variant):
    response = client.get("/graphql/", persisted(LISTING, "0" * 64))
    assert response.status_code == 400
    assert top_level_codes(response.json()) == ["BAD_USER_INPUT"]
    unknown = client.get("/graphql/", persisted(None, "0" * 64))
    assert top_level_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_search_shows_a_change_at_once_on_the_database_backend(client, variant, staff):
    query = '{ search(query: "枸杞") { totalCount edges { node { name } } } }'
    indexing.products_changed([variant.product_id])  # factories bypass the services
    indexing.drain()
    assert cached_read(client, query)["data"]["search"]["totalCount"] == 1
    edit(staff, variant.product_id, is_published=False)
    assert read(client, query)[0]["data"]["search"]["totalCount"] == 0


def test_answers_for_another_host_are_kept_apart(client, variant, staff, media_in_tmp, settings):
    settings.ALLOWED_HOSTS = ["shop.example.cn", "internal.example.cn"]
    add_image(staff, variant.product_id)
    urls = {}
    for host in ("shop.example.cn", "internal.example.cn"):
        data, _state = read(client, HTTP_HOST=host)
        (image,) = only_product(data)["images"]
        urls[host] = image["url"]
    assert urls["shop.example.cn"].startswith("http://shop.example.cn/")
    assert urls["internal.example.cn"].startswith("http://internal.example.cn/")


@pytest.mark.parametrize(("refresh", "cached"), [(False, False), (True, True)])
def test_engine_search_is_cached_only_when_updates_wait_for_the_refresh(
    client, variant, settings, refresh, cached
):
    """An engine shows an update only after its refresh interval: an answer cached in between
    would outlive the change, unless each update waits for the refresh."""
    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = f"http://127.0.0.1:{_free_port()}"  # down: answered from the DB
    settings.SEARCH_ENGINE_REFRESH = refresh
    query = '{ search(query: "枸杞") { totalCount } }'
    read(client, query)
    assert (read(client, query)[1] == "hit") is cached
    assert cached_read(client, "{ categories { name } }")


def test_a_search_shows_an_operators_new_synonym_at_once(client, variant):
    query = '{ search(query: "红宝果") { totalCount } }'
    indexing.products_changed([variant.product_id])  # factories bypass the services
    indexing.drain()
    assert cached_read(client, query)["data"]["search"]["totalCount"] == 0
    SynonymRule.objects.create(rule="红宝果, 枸杞", note="a regional name")
    assert read(client, query)[0]["data"]["search"]["totalCount"] == 1
