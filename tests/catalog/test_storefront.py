"""The storefront shows only sellable products, filters and sorts them, without N+1 queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from catalog.models import ProductStatus, SupplierStatus
from tests.factories import (
    GIFactory,
    HouseholdFactory,
    ProductFactory,
    SupplierFactory,
    TierPriceFactory,
    TraceBatchFactory,
    UserFactory,
    VariantFactory,
)
from tests.factories.catalog import category, county, in_days

PRODUCT_NAMES = "{ products(first: 50) { totalCount edges { node { name } } } }"

LISTING = """
query($first: Int) {
  products(first: $first) {
    totalCount
    edges { node {
      name slug hasGi isPovertyCountyProduct
      category { name } originCounty { name isPovertyExited }
      supplier { name county { name } }
      priceRange { start { amount currency } stop { amount } }
      variants { sku spec unitPrice { amount } quantityAvailable inStock tiers { minQuantity unitPrice { amount } } }
      images { url width thumbnails { size url } }
      authorizations { kind name }
    } }
  }
}"""


def names(gql, query=PRODUCT_NAMES, variables=None, **kwargs) -> list[str]:
    data = gql(query, variables, **kwargs)["data"]["products"]
    return [edge["node"]["name"] for edge in data["edges"]]


@pytest.mark.smoke
def test_only_sellable_products_are_listed(gql):
    ProductFactory(name="可售")
    ProductFactory(name="草稿", status=ProductStatus.DRAFT)
    ProductFactory(name="待认定", status=ProductStatus.PENDING_CERTIFICATION)
    ProductFactory(name="未通过", status=ProductStatus.CERTIFICATION_REJECTED)
    ProductFactory(name="认定过期", certified_until=in_days(-1))
    ProductFactory(name="未上架", is_published=False)
    ProductFactory(name="供应商暂停", supplier=SupplierFactory(status=SupplierStatus.SUSPENDED))
    ProductFactory(name="供应商退出", supplier=SupplierFactory(status=SupplierStatus.EXITED))
    ProductFactory(name="供应商申请中", supplier=SupplierFactory(status=SupplierStatus.APPLIED))
    assert names(gql) == ["可售"]


def test_suspend_exit_and_reinstate_move_products_on_and_off_the_storefront(gql, operator):
    product = ProductFactory(name="中宁枸杞")
    supplier_id = to_global_id("Supplier", product.supplier_id)
    suspend = (
        """mutation($id: ID!) { supplierSuspend(id: $id, reason: "抽检") { errors { code } } }"""
    )
    reinstate = """mutation($id: ID!) { supplierReinstate(id: $id) { errors { code } } }"""
    exit_ = """mutation($id: ID!) { supplierExit(id: $id, reason: "退出") { errors { code } } }"""
    catalog = "{ recommendedCatalog { totalCount } }"
    assert names(gql) == ["中宁枸杞"]
    gql(suspend, {"id": supplier_id}, user=operator)
    assert names(gql) == []
    assert gql(catalog)["data"]["recommendedCatalog"]["totalCount"] == 0
    gql(reinstate, {"id": supplier_id}, user=operator)
    assert names(gql) == ["中宁枸杞"]
    assert gql(catalog)["data"]["recommendedCatalog"]["totalCount"] == 1
    gql(exit_, {"id": supplier_id}, user=operator)
    assert names(gql) == []
    assert gql(catalog)["data"]["recommendedCatalog"]["totalCount"] == 0


def test_certification_expiry_takes_a_product_off_the_storefront(gql):
    ProductFactory(name="中宁枸杞", certified_until=in_days(10))
    assert names(gql) == ["中宁枸杞"]
    with time_machine.travel(timezone.now() + timedelta(days=11)):
        assert names(gql) == []


@pytest.mark.smoke
def test_filter_by_category_and_county(gql):
    ProductFactory(name="中宁枸杞")
    ProductFactory(
        name="盐池滩羊肉", category=category("tan-sheep"), origin_county=county("640323")
    )
    ProductFactory(
        name="贺兰山东麓赤霞珠", category=category("wine"), origin_county=county("640122")
    )
    query = """query($f: ProductFilterInput) { products(filter: $f) { edges { node { name } } } }"""
    by_category = {"f": {"categories": [to_global_id("Category", category("tan-sheep").pk)]}}
    assert names(gql, query, by_category) == ["盐池滩羊肉"]
    by_county = {"f": {"counties": [to_global_id("County", county("640122").pk)]}}
    assert names(gql, query, by_county) == ["贺兰山东麓赤霞珠"]
    both = {
        "f": {
            "categories": [to_global_id("Category", category("goji").pk)],
            "counties": [to_global_id("County", county("640323").pk)],
        }
    }
    assert names(gql, query, both) == []


def test_filter_by_price_gi_poverty_county_and_stock(gql):
    cheap = VariantFactory(product__name="便宜", unit_price=Decimal("30.00"), stock=0).product
    VariantFactory(product__name="贵", unit_price=Decimal("300.00"))
    GIFactory(product=cheap)
    poor = SupplierFactory(county=county("640422"))  # 西吉县, a 脱贫县
    VariantFactory(
        product__name="西吉马铃薯", product__supplier=poor, product__origin_county=county("640422")
    )
    query = """query($f: ProductFilterInput) { products(filter: $f) { edges { node { name } } } }"""
    assert names(gql, query, {"f": {"price": {"lte": "100"}}}) == ["便宜"]
    assert names(gql, query, {"f": {"price": {"gte": "100", "lte": "500"}}}) == ["西吉马铃薯", "贵"]
    assert names(gql, query, {"f": {"hasGi": True}}) == ["便宜"]
    assert names(gql, query, {"f": {"isPovertyCountyProduct": True}}) == ["西吉马铃薯"]
    assert names(gql, query, {"f": {"inStock": True}}) == ["西吉马铃薯", "贵"]


def test_sort_by_price_and_created(gql):
    VariantFactory(product__name="B", unit_price=Decimal("50.00"))
    VariantFactory(product__name="A", unit_price=Decimal("80.00"))
    VariantFactory(product__name="C", unit_price=Decimal("20.00"))
    query = """query($s: ProductOrder) { products(sortBy: $s) { edges { node { name } } } }"""
    assert names(gql, query, {"s": {"field": "PRICE"}}) == ["C", "B", "A"]
    assert names(gql, query, {"s": {"field": "PRICE", "direction": "DESC"}}) == ["A", "B", "C"]
    assert names(gql, query, {"s": {"field": "CREATED", "direction": "DESC"}}) == ["C", "A", "B"]
    assert names(gql, query, {"s": {"field": "NAME"}}) == ["A", "B", "C"]


def test_product_by_slug_and_by_id_only_when_sellable(gql):
    product = ProductFactory(name="中宁枸杞", slug="zhong-ning-gou-qi")
    hidden = ProductFactory(status=ProductStatus.DRAFT)
    query = """query($id: ID, $slug: String) { product(id: $id, slug: $slug) { name } }"""
    assert gql(query, {"slug": "zhong-ning-gou-qi"})["data"]["product"] == {"name": "中宁枸杞"}
    assert gql(query, {"id": to_global_id("Product", product.pk)})["data"]["product"] == {
        "name": "中宁枸杞"
    }
    assert gql(query, {"id": to_global_id("Product", hidden.pk)})["data"]["product"] is None


@pytest.mark.smoke
def test_listing_shows_money_tiers_and_flags(gql):
    variant = VariantFactory(
        product__name="中宁枸杞", unit_price=Decimal("128.00"), stock=3, minimum_order_quantity=5
    )
    TierPriceFactory(variant=variant, min_quantity=50, unit_price=Decimal("118.50"))
    GIFactory(product=variant.product)
    node = gql(LISTING, {"first": 10})["data"]["products"]["edges"][0]["node"]
    assert node["hasGi"] is True
    assert node["isPovertyCountyProduct"] is False  # 中宁县 is not a 脱贫县
    assert node["priceRange"] == {
        "start": {"amount": "128.00", "currency": "CNY"},
        "stop": {"amount": "128.00"},
    }
    assert node["variants"] == [
        {
            "sku": variant.sku,
            "spec": "500g×2袋",
            "unitPrice": {"amount": "128.00"},
            "quantityAvailable": 3,
            "inStock": False,
            "tiers": [{"minQuantity": 50, "unitPrice": {"amount": "118.50"}}],
        }
    ]
    assert node["authorizations"] == [{"kind": "GI", "name": "中宁枸杞"}]


def _listing_queries(gql, size: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = gql(LISTING, {"first": size})
    assert "errors" not in response
    assert len(response["data"]["products"]["edges"]) == size
    return len(queries)


def test_listing_query_count_does_not_grow_with_page_size(gql):
    for n in range(100):
        variant = VariantFactory(product__name=f"产品{n:03d}")
        TierPriceFactory(variant=variant)
        VariantFactory(product=variant.product)
        GIFactory(product=variant.product)
    small, large = _listing_queries(gql, 10), _listing_queries(gql, 100)
    assert small == large
    # count + page (with category, county, supplier and its county joined) + variants + tiers
    # + images + authorisations
    assert large <= 6


def test_categories_and_origins_are_reference_data(gql):
    data = gql("{ categories { name slug } origins { name isPovertyExited } }")["data"]
    assert [c["name"] for c in data["categories"]][:5] == ["枸杞", "葡萄酒", "乳品", "牛肉", "滩羊"]
    origins = {o["name"]: o["isPovertyExited"] for o in data["origins"]}
    assert len(origins) == 23
    assert sum(origins.values()) == 9
    assert (origins["闽宁镇"], origins["西吉县"], origins["中宁县"]) == (False, True, False)


def test_trace_batch_shows_the_chain_with_masked_households_to_the_public(gql):
    batch = TraceBatchFactory(code="NX-GQ-2026-00001", product__name="中宁枸杞")
    HouseholdFactory(batch=batch, household="马有福", poverty_status="LIFTED")
    query = """{ traceBatch(code: "NX-GQ-2026-00001") {
        code certificateNumber product { name supplier { name } } originCounty { name }
        households { household village povertyStatus linkage amountPaid { amount } } } }"""
    public = gql(query)["data"]["traceBatch"]
    assert public["product"]["name"] == "中宁枸杞"
    assert public["originCounty"] == {"name": "中宁县"}
    assert public["households"] == [
        {
            "household": "马**",
            "village": "舟塔村",
            "povertyStatus": "LIFTED",
            "linkage": "ORDER_PURCHASE",
            "amountPaid": {"amount": "8600.00"},
        }
    ]
    staff = UserFactory(role="SUPPLIER", supplier=batch.product.supplier)
    assert gql(query, user=staff)["data"]["traceBatch"]["households"][0]["household"] == "马有福"
    assert gql('{ traceBatch(code: "nope") { code } }')["data"]["traceBatch"] is None
