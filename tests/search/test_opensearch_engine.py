"""The product index on a real OpenSearch node (tests.searchengine starts one; no database needed).

Covers the client adapter (search.opensearch), the mapping and analyzers, Chinese / pinyin /
initials matching and ranking, exact facet counts, filters, sorting, autocomplete and the
zero-downtime alias swap (search.documents).
"""

import uuid

import pytest
from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError

from search.documents import (
    PRICE_BANDS,
    ProductDocument,
    autocomplete,
    build_document,
    bulk_index,
    create_index,
    point_alias,
    search_products,
)

PRODUCTS = [
    {
        "id": "goji-1",
        "name": "宁夏中宁枸杞 特级干果 500g",
        "description": "中宁县核心产区，颗粒饱满，免洗即食。",
        "category": "goji",
        "county": "中宁",
        "gi": True,
        "min_price": 68,
    },
    {
        "id": "goji-2",
        "name": "中宁枸杞原浆 10袋装",
        "description": "鲜果冷榨，无添加。",
        "category": "goji",
        "county": "中宁",
        "gi": True,
        "min_price": 128,
    },
    {
        "id": "goji-3",
        "name": "黑枸杞 野生 200g",
        "description": "花青素含量高，泡水呈蓝紫色。",
        "category": "goji",
        "county": "同心",
        "gi": False,
        "min_price": 45,
    },
    {
        "id": "wine-1",
        "name": "贺兰山东麓干红葡萄酒 750ml",
        "description": "赤霞珠，橡木桶陈酿十二个月。",
        "category": "wine",
        "county": "永宁",
        "gi": True,
        "min_price": 268,
    },
    {
        "id": "wine-2",
        "name": "贺兰山东麓赤霞珠葡萄酒 礼盒",
        "description": "酒庄直供，双支装。",
        "category": "wine",
        "county": "青铜峡",
        "gi": True,
        "min_price": 598,
    },
    {
        "id": "lamb-1",
        "name": "盐池滩羊肉 羊排 2kg",
        "description": "草原散养，肉质细嫩不膻。",
        "category": "mutton",
        "county": "盐池",
        "gi": True,
        "min_price": 198,
    },
    {
        "id": "potato-1",
        "name": "西吉马铃薯 5kg",
        "description": "高原冷凉气候种植，淀粉含量高。",
        "category": "vegetables",
        "county": "西吉",
        "gi": True,
        "min_price": "29.90",
    },
    {
        "id": "daylily-1",
        "name": "六盘山黄花菜 干货 250g",
        "description": "古法晾晒。",
        "category": "vegetables",
        "county": "原州",
        "gi": False,
        "min_price": 39,
        "in_stock": False,
    },
    {
        "id": "tea-1",
        "name": "宁夏八宝茶 盖碗茶",
        "description": "配料：枸杞、红枣、桂圆、冰糖、绿茶。",
        "category": "tea",
        "county": "利通",
        "gi": False,
        "min_price": 35,
    },
]
GOJI = {"goji-1", "goji-2", "goji-3"}


@pytest.fixture(scope="module")
def index(opensearch_client):
    name = f"test-products-{uuid.uuid4().hex[:8]}"
    ProductDocument.init(index=name, using=opensearch_client)
    indexed = bulk_index(
        opensearch_client, name, [build_document(p) for p in PRODUCTS], refresh=True
    )
    assert indexed == len(PRODUCTS)
    yield name
    opensearch_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
def search(opensearch_client, index):
    def run(query, filters=None, **kwargs):
        return search_products(opensearch_client, index, query, filters, **kwargs)

    return run


def counts(facet: list[dict]) -> dict:
    return {entry["value"]: entry["count"] for entry in facet}


# --- the client adapter ---------------------------------------------------------------------


@pytest.fixture
def require_opensearch(opensearch_is_opensearch):
    if not opensearch_is_opensearch:
        pytest.skip("OPENSEARCH_URL points at Elasticsearch: the adapter is not involved")


@pytest.mark.usefixtures("require_opensearch")
def test_stock_client_rejects_opensearch_product(opensearch_url):
    with Elasticsearch(opensearch_url) as client, pytest.raises(UnsupportedProductError):
        client.info()


@pytest.mark.usefixtures("require_opensearch")
def test_stock_client_compat_media_type_is_refused_with_406(opensearch_url):
    with Elasticsearch(opensearch_url) as client, pytest.raises(ApiError) as caught:
        client.index(index=f"refused-{uuid.uuid4().hex[:8]}", document={"name": "枸杞"})
    assert caught.value.meta.status == 406
    assert "compatible-with=8" in str(caught.value)


def test_adapter_client_talks_to_the_node(opensearch_client, opensearch_is_opensearch):
    info = opensearch_client.info()
    assert info["version"]["number"]
    if opensearch_is_opensearch:
        assert info["version"]["distribution"] == "opensearch"


# --- mapping and analyzers ------------------------------------------------------------------


def analyze(client, index, **kwargs) -> list[str]:
    return [t["token"] for t in client.indices.analyze(index=index, **kwargs)["tokens"]]


def test_mapping_analyzers(opensearch_client, index):
    assert analyze(opensearch_client, index, field="pinyin", text="gouqi") == [
        "g",
        "go",
        "gou",
        "gouq",
        "gouqi",
    ]
    assert analyze(opensearch_client, index, field="name.cjk", text="中宁枸杞") == [
        "中宁",
        "宁枸",
        "枸杞",
    ]
    assert analyze(opensearch_client, index, field="name_terms", text="中宁 枸杞") == [
        "中宁",
        "枸杞",
    ]
    mapping = opensearch_client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["min_price"]["type"] == "double"


def test_stored_document(opensearch_client, index):
    doc = ProductDocument.get(id="goji-1", index=index, using=opensearch_client)
    assert doc.price_band == "50-100"
    assert "gouqi" in doc.pinyin.split()
    assert "中宁枸杞" in doc.name_terms.split()


# --- matching and ranking -------------------------------------------------------------------


@pytest.mark.parametrize("query", ["枸杞", "中宁枸杞", "gouqi", "gq", "GouQi", "ｇｑ"])
def test_goji_queries_return_goji_first(search, query):
    result = search(query)
    assert result["total"] >= 2
    top = result["ids"][: min(3, result["total"])]
    assert set(top) <= GOJI, result["ids"]


def test_goji_in_name_ranks_above_goji_in_description(search):
    result = search("枸杞")
    assert result["total"] == 4
    assert set(result["ids"][:3]) == GOJI
    assert result["ids"][3] == "tea-1"


def test_compound_query_needs_both_parts(search):
    result = search("中宁枸杞")
    assert set(result["ids"]) == {"goji-1", "goji-2"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gouqi", GOJI),
        ("gq", GOJI),
        ("tanyang", {"lamb-1"}),
        ("helanshan", {"wine-1", "wine-2"}),
        ("zhongn", {"goji-1", "goji-2"}),  # an unfinished syllable is a prefix
        ("宁夏 滩羊", set()),  # 宁夏 is in no lamb text: every word must match
        ("盐池 滩羊", {"lamb-1"}),
        ("羊", {"lamb-1"}),  # one character: a substring of the name
        ("葡萄酒", {"wine-1", "wine-2"}),
        ("贺兰山东麓葡萄酒", {"wine-1", "wine-2"}),
        ("500g", {"goji-1"}),
        ("马铃薯 mls", {"potato-1"}),  # Chinese word and initials in one query
        ("铁观音", set()),
    ],
)
def test_matches(search, query, expected):
    assert set(search(query, facets=False)["ids"]) == expected


# --- facets, filters, sorting, paging -------------------------------------------------------


def test_facet_counts_over_everything(search):
    result = search("")
    assert result["total"] == len(PRODUCTS)
    facets = result["facets"]
    assert counts(facets["category"]) == {
        "goji": 3,
        "wine": 2,
        "vegetables": 2,
        "mutton": 1,
        "tea": 1,
    }
    assert counts(facets["county"]) == {
        "中宁": 2,
        "同心": 1,
        "永宁": 1,
        "青铜峡": 1,
        "盐池": 1,
        "西吉": 1,
        "原州": 1,
        "利通": 1,
    }
    assert counts(facets["gi"]) == {True: 6, False: 3}
    assert [(f["value"], f["count"]) for f in facets["price_band"]] == [
        ("0-50", 4),
        ("50-100", 1),
        ("100-200", 2),
        ("200-500", 1),
        ("500+", 1),
    ]
    assert [f["value"] for f in facets["price_band"]] == [band[0] for band in PRICE_BANDS]


def test_facet_counts_follow_the_query(search):
    facets = search("枸杞")["facets"]
    assert counts(facets["category"]) == {"goji": 3, "tea": 1}
    assert counts(facets["county"]) == {"中宁": 2, "同心": 1, "利通": 1}
    assert counts(facets["gi"]) == {True: 2, False: 2}


def test_county_filter_narrows_hits_but_not_its_own_facet(search):
    result = search("枸杞", {"county": "中宁"})
    assert set(result["ids"]) == {"goji-1", "goji-2"}
    assert result["total"] == 2
    # the county facet ignores the county filter (so other counties stay pickable) ...
    assert counts(result["facets"]["county"]) == {"中宁": 2, "同心": 1, "利通": 1}
    # ... the other facets apply it
    assert counts(result["facets"]["category"]) == {"goji": 2}
    assert counts(result["facets"]["gi"]) == {True: 2}


def test_several_counties_are_or_ed(search):
    result = search("", {"county": ["中宁", "盐池"]})
    assert set(result["ids"]) == {"goji-1", "goji-2", "lamb-1"}


def test_non_facet_filters_narrow_everything(search):
    result = search("", {"in_stock": True})
    assert result["total"] == len(PRODUCTS) - 1
    assert "daylily-1" not in result["ids"]
    assert counts(result["facets"]["category"])["vegetables"] == 1
    cheap = search("", {"max_price": 40}, facets=False)
    assert set(cheap["ids"]) == {"potato-1", "daylily-1", "tea-1"}
    assert set(search("", {"gi": True, "category": "wine"})["ids"]) == {"wine-1", "wine-2"}


def test_price_band_filter(search):
    result = search("", {"price_band": "0-50"})
    assert set(result["ids"]) == {"goji-3", "potato-1", "daylily-1", "tea-1"}


def test_unknown_filter_is_refused(search):
    with pytest.raises(ValueError, match="colour"):
        search("", {"colour": "red"})


def test_sort_by_price_and_paging(search):
    result = search("", sort="price_asc", size=3, facets=False)
    assert result["ids"] == ["potato-1", "tea-1", "daylily-1"]
    assert result["total"] == len(PRODUCTS)
    assert search("", sort="price_asc", size=3, offset=3, facets=False)["ids"] == [
        "goji-3",
        "goji-1",
        "goji-2",
    ]
    assert search("", sort="price_desc", size=1, facets=False)["ids"] == ["wine-2"]


def test_hits_carry_score_and_name(search):
    hit = search("西吉马铃薯", facets=False)["hits"][0]
    assert hit["id"] == "potato-1"
    assert hit["name"] == "西吉马铃薯 5kg"
    assert hit["score"] > 0


# --- autocomplete ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("中宁", {"goji-1", "goji-2"}),
        ("中宁枸", {"goji-1", "goji-2"}),
        ("gou", GOJI),
        ("hls", {"wine-1", "wine-2"}),
        ("宁夏八", {"tea-1"}),
    ],
)
def test_autocomplete(opensearch_client, index, prefix, expected):
    assert {s["id"] for s in autocomplete(opensearch_client, index, prefix)} == expected


# --- zero-downtime reindex ------------------------------------------------------------------


def test_alias_swap(opensearch_client):
    client = opensearch_client
    alias = f"test-alias-{uuid.uuid4().hex[:8]}"
    first = create_index(client, alias, suffix="v1")
    bulk_index(client, first, [build_document(p) for p in PRODUCTS], refresh=True)
    assert point_alias(client, alias, first) == []
    assert search_products(client, alias, "枸杞")["total"] == 4

    second = create_index(client, alias, suffix="v2")
    bulk_index(client, second, [build_document(p) for p in PRODUCTS[:2]], refresh=True)
    # readers still see the old index until the swap
    assert search_products(client, alias, "枸杞")["total"] == 4
    assert point_alias(client, alias, second, delete_old=True) == [first]
    assert search_products(client, alias, "枸杞")["total"] == 2
    assert list(client.indices.get_alias(name=alias).body) == [second]
    assert not client.indices.exists(index=first)
    client.indices.delete(index=second)
