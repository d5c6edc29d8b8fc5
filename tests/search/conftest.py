"""Fixtures of the backend-agnostic search tests.

`backend_name` is parametrised: "database" (PostgreSQL in the normal run, SQLite FTS5 in the
smoke run: marked `smoke`) and "opensearch" (a real OpenSearch 2.19 node from
tests.searchengine, through the Elasticsearch backend; each test gets its own index alias).
`shop_catalog` builds a small catalog and indexes it on the backend under test.
"""

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from catalog.models import ProductStatus, SupplierStatus
from search.backends import get_search_backend, reset_backends
from search.query import SearchFilters, SearchRequest
from tests.factories import GIFactory, ProductFactory, SupplierFactory, VariantFactory
from tests.factories.catalog import category, county, in_days

BACKENDS = [pytest.param("database", marks=pytest.mark.smoke), "opensearch"]


def use_engine(settings, url: str, alias: str, **extra) -> None:
    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = url
    settings.SEARCH_INDEX = alias
    settings.SEARCH_ENGINE_REFRESH = True
    settings.SEARCH_ENGINE_RETRY_SECONDS = 0
    settings.SEARCH_ENGINE_TIMEOUT = 10
    for key, value in extra.items():
        setattr(settings, key, value)


def drop_indices(client, alias: str) -> None:
    client.indices.delete(index=f"{alias}-*", ignore_unavailable=True, allow_no_indices=True)
    if client.indices.exists(index=alias):
        client.indices.delete(index=alias)


@pytest.fixture(params=BACKENDS)
def backend_name(request, settings, db):
    name = request.param
    alias = client = None
    if name == "database":
        settings.SEARCH_BACKEND = "database"
    else:
        url = request.getfixturevalue("opensearch_url")
        client = request.getfixturevalue("opensearch_client")
        alias = f"test-search-{uuid.uuid4().hex[:10]}"
        use_engine(settings, url, alias, SEARCH_ENGINE_IS_OPENSEARCH=None)  # ask the server
    reset_backends()
    yield name
    if alias:
        drop_indices(client, alias)
    reset_backends()


@dataclass
class ShopCatalog:
    products: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.products[key]

    def ids(self, *keys) -> set[int]:
        return {self.products[key].pk for key in keys}

    def keys(self, ids) -> list[str]:
        by_id = {product.pk: key for key, product in self.products.items()}
        return [by_id.get(pk, f"?{pk}") for pk in ids]


GOJI = ("goji-1", "goji-2", "goji-3")

# key: (name, description, category slug, county code, GI name, price, stock)
PRODUCTS = {
    "goji-1": (
        "宁夏中宁枸杞 特级干果 500g",
        "中宁县核心产区，颗粒饱满，免洗即食。",
        "goji",
        "640521",
        "中宁枸杞",
        "68.00",
        100,
    ),
    "goji-2": (
        "中宁枸杞原浆 10袋装",
        "鲜果冷榨，无添加。",
        "goji",
        "640521",
        "中宁枸杞",
        "128.00",
        100,
    ),
    "goji-3": (
        "黑枸杞 野生 200g",
        "花青素含量高，泡水呈蓝紫色。",
        "goji",
        "640324",
        "",
        "45.00",
        100,
    ),
    "wine-1": (
        "贺兰山东麓干红葡萄酒 750ml",
        "赤霞珠，橡木桶陈酿十二个月。",
        "wine",
        "640121",
        "贺兰山东麓葡萄酒",
        "268.00",
        100,
    ),
    "wine-2": (
        "贺兰山东麓赤霞珠葡萄酒 礼盒",
        "酒庄直供，双支装。",
        "wine",
        "640381",
        "贺兰山东麓葡萄酒",
        "598.00",
        100,
    ),
    "lamb-1": (
        "盐池滩羊肉 羊排 2kg",
        "草原散养，肉质细嫩不膻。",
        "tan-sheep",
        "640323",
        "盐池滩羊",
        "198.00",
        100,
    ),
    "potato-1": (
        "西吉马铃薯 5kg",
        "高原冷凉气候种植，淀粉含量高。",
        "potatoes",
        "640422",
        "西吉马铃薯",
        "29.90",
        100,
    ),
    "daylily-1": (
        "六盘山黄花菜 干货 250g",
        "古法晾晒。",
        "fruit-vegetables",
        "640402",
        "",
        "39.00",
        0,
    ),
    "tea-1": (
        "宁夏八宝茶 盖碗茶",
        "配料：枸杞、红枣、桂圆、冰糖、绿茶。",
        "green-food",
        "640302",
        "",
        "35.00",
        100,
    ),
}
# Never on the storefront, so never in a search result.
HIDDEN = {
    "suspended": {"supplier_status": SupplierStatus.SUSPENDED},
    "expired": {"certified_until": in_days(-1)},
    "draft": {"status": ProductStatus.DRAFT},
    "unpublished": {"is_published": False},
}


def make_product(key, name, description, slug, code, gi, price, stock, n, **overrides):
    supplier_status = overrides.pop("supplier_status", SupplierStatus.ADMITTED)
    supplier = SupplierFactory(
        name=f"山海测试供应商{n}号", status=supplier_status, county=county(code)
    )
    product = ProductFactory(
        name=name,
        slug=f"test-{key}",
        description=description,
        category=category(slug),
        origin_county=county(code),
        supplier=supplier,
        **overrides,
    )
    VariantFactory(product=product, unit_price=Decimal(price), stock=stock)
    if gi:
        GIFactory(product=product, name=gi)
    return product


@pytest.fixture
def shop_catalog(backend_name) -> ShopCatalog:
    catalog = ShopCatalog()
    for n, (key, row) in enumerate(PRODUCTS.items()):
        catalog.products[key] = make_product(key, *row, n)
    for n, (key, overrides) in enumerate(HIDDEN.items(), start=len(PRODUCTS)):
        row = (f"中宁枸杞 {key}", "中宁枸杞。", "goji", "640521", "中宁枸杞", "88.00", 100)
        catalog.products[key] = make_product(key, *row, n, **overrides)
    get_search_backend().rebuild()
    return catalog


@pytest.fixture
def search(shop_catalog):
    """search(text, sort=..., limit=..., **filters) -> SearchResults on the backend under test."""

    def run(text="", *, sort="relevance", descending=False, limit=20, offset=0, **filters):
        return get_search_backend().search(
            SearchRequest(
                text=text,
                filters=SearchFilters(**filters),
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
            )
        )

    return run
