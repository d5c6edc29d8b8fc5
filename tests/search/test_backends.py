"""The same tests on every search backend: the database backend (PostgreSQL tsvector in the
normal run, SQLite FTS5 in the smoke run) and the Elasticsearch backend against a real
OpenSearch 2.19 node. Covers matching (Chinese, pinyin, initials, partial words), ranking, exact
facet counts, filters, sorting, paging, suggestions, and that only sellable products appear."""

from decimal import Decimal

import pytest

from search.backends import get_search_backend
from tests.search.conftest import GOJI, HIDDEN


def counts(facet) -> dict:
    return {value.value: value.count for value in facet}


def keys(shop_catalog, results) -> list[str]:
    return shop_catalog.keys(results.ids)


@pytest.mark.parametrize("query", ["枸杞", "中宁枸杞", "gouqi", "gq", "GouQi", "ｇｑ"])
def test_goji_queries_return_goji_first(search, shop_catalog, query):
    results = search(query)
    found = keys(shop_catalog, results)
    goji_found = [key for key in found if key in GOJI]
    assert len(goji_found) >= 2, found
    assert set(found[: len(goji_found)]) <= set(GOJI), found


def test_goji_in_name_ranks_above_goji_in_description(search, shop_catalog):
    results = search("枸杞")
    assert results.total == 4
    found = keys(shop_catalog, results)
    assert set(found[:3]) == set(GOJI)
    assert found[3] == "tea-1"
    assert [hit.score for hit in results.hits] == sorted(
        (hit.score for hit in results.hits), reverse=True
    )


def test_compound_query_needs_both_words_and_ranks_the_compound_first(search, shop_catalog):
    assert set(keys(shop_catalog, search("中宁枸杞"))) == {"goji-1", "goji-2"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gouqi", set(GOJI)),
        ("gq", set(GOJI)),
        ("gou", set(GOJI)),  # an unfinished pinyin word is a prefix
        ("tanyang", {"lamb-1"}),
        ("ty", {"lamb-1"}),
        ("helanshan", {"wine-1", "wine-2"}),
        ("hls", {"wine-1", "wine-2"}),
        ("zhongn", {"goji-1", "goji-2"}),
        ("宁夏 滩羊", {"lamb-1"}),  # the province is a tag of every Ningxia product
        ("盐池 滩羊", {"lamb-1"}),
        ("羊", {"lamb-1"}),  # one character: a substring of the name
        ("葡萄酒", {"wine-1", "wine-2"}),
        ("贺兰山东麓葡萄酒", {"wine-1", "wine-2"}),
        ("马铃薯 mls", {"potato-1"}),  # a Chinese word and initials in one query
        ("黄花菜", {"daylily-1"}),
        ("六盘山", {"daylily-1"}),
        ("同心", {"goji-3"}),  # the origin county
        ("铁观音", set()),
    ],
)
def test_matches(search, shop_catalog, query, expected):
    assert set(keys(shop_catalog, search(query))) == expected


def test_a_weight_in_the_name_ranks_above_the_same_weight_in_a_variant_spec(search, shop_catalog):
    found = keys(shop_catalog, search("500g"))
    assert found[0] == "goji-1"
    assert len(found) > 1  # every variant of the test catalog is "500g×2袋"


def test_when_no_product_has_every_word_the_hits_are_partial(search, shop_catalog):
    results = search("枸杞 葡萄酒")
    assert results.partial
    found = set(keys(shop_catalog, results))
    assert {"goji-1", "wine-1"} <= found
    assert search("枸杞").partial is False


def test_only_sellable_products_are_found(search, shop_catalog):
    hidden = shop_catalog.ids(*HIDDEN)
    for query in ("中宁枸杞", "枸杞", "gouqi", ""):
        assert not hidden & set(search(query, limit=50).ids), query
    assert search("").total == 9
    suggestions = get_search_backend().suggest("中宁", limit=20)
    assert not hidden & {s.product_id for s in suggestions}


def test_hits_carry_scores(search, shop_catalog):
    hit = search("西吉马铃薯").hits[0]
    assert hit.product_id == shop_catalog["potato-1"].pk
    assert hit.score > 0


# --- facets -------------------------------------------------------------------------------


def test_facet_counts_over_everything(search, shop_catalog):
    results = search("")
    facets = results.facets
    cat = {p.category.slug: str(p.category_id) for p in shop_catalog.products.values()}
    assert counts(facets["category"]) == {
        cat["goji"]: 3,
        cat["wine"]: 2,
        cat["tan-sheep"]: 1,
        cat["potatoes"]: 1,
        cat["fruit-vegetables"]: 1,
        cat["green-food"]: 1,
    }
    assert [v.value for v in facets["category"]][0] == cat["goji"]  # most hits first
    county = {key: str(p.origin_county_id) for key, p in shop_catalog.products.items()}
    assert counts(facets["county"]) == {
        county["goji-1"]: 2,
        county["goji-3"]: 1,
        county["wine-1"]: 1,
        county["wine-2"]: 1,
        county["lamb-1"]: 1,
        county["potato-1"]: 1,
        county["daylily-1"]: 1,
        county["tea-1"]: 1,
    }
    assert counts(facets["gi"]) == {"true": 6, "false": 3}
    assert [(v.value, v.count) for v in facets["price_band"]] == [
        ("0-50", 4),
        ("50-100", 1),
        ("100-200", 2),
        ("200-500", 1),
        ("500+", 1),
    ]


def test_facet_counts_follow_the_query(search, shop_catalog):
    facets = search("枸杞").facets
    goji, tea = shop_catalog["goji-1"], shop_catalog["tea-1"]
    assert counts(facets["category"]) == {str(goji.category_id): 3, str(tea.category_id): 1}
    assert counts(facets["gi"]) == {"true": 2, "false": 2}
    assert sum(counts(facets["county"]).values()) == 4
    assert [v.count for v in facets["price_band"]] == [2, 1, 1, 0, 0]


def test_county_filter_narrows_hits_but_not_its_own_facet(search, shop_catalog):
    zhongning = shop_catalog["goji-1"].origin_county_id
    results = search("枸杞", counties=(zhongning,))
    assert set(keys(shop_catalog, results)) == {"goji-1", "goji-2"}
    assert results.total == 2
    assert sum(counts(results.facets["county"]).values()) == 4  # other counties stay pickable
    assert counts(results.facets["category"]) == {str(shop_catalog["goji-1"].category_id): 2}
    assert counts(results.facets["gi"]) == {"true": 2}


def test_several_values_of_one_facet_are_or_ed(search, shop_catalog):
    counties = (shop_catalog["goji-1"].origin_county_id, shop_catalog["lamb-1"].origin_county_id)
    assert set(keys(shop_catalog, search("", counties=counties))) == {
        "goji-1",
        "goji-2",
        "lamb-1",
    }


def test_category_gi_and_price_band_filters(search, shop_catalog):
    wine = shop_catalog["wine-1"].category_id
    assert set(keys(shop_catalog, search("", categories=(wine,), gi=True))) == {"wine-1", "wine-2"}
    assert set(keys(shop_catalog, search("", gi=False))) == {"goji-3", "daylily-1", "tea-1"}
    assert set(keys(shop_catalog, search("", price_bands=("0-50",)))) == {
        "goji-3",
        "potato-1",
        "daylily-1",
        "tea-1",
    }
    results = search("", price_bands=("0-50", "500+"))
    assert results.total == 5
    assert [v.count for v in results.facets["price_band"]] == [4, 1, 2, 1, 1]


def test_plain_filters_narrow_everything(search, shop_catalog):
    results = search("", in_stock=True)
    assert results.total == 8
    assert "daylily-1" not in keys(shop_catalog, results)
    assert set(keys(shop_catalog, search("", in_stock=False))) == {"daylily-1"}
    cheap = search("", price_max=Decimal("40"))
    assert set(keys(shop_catalog, cheap)) == {"potato-1", "daylily-1", "tea-1"}
    assert set(keys(shop_catalog, search("", price_min=Decimal("500")))) == {"wine-2"}
    supplier = shop_catalog["lamb-1"].supplier_id
    assert keys(shop_catalog, search("", suppliers=(supplier,))) == ["lamb-1"]
    # 832-eligible: made in and supplied from a 脱贫县 (盐池, 同心, 西吉, 原州 here)
    assert set(keys(shop_catalog, search("", poverty=True))) == {
        "goji-3",
        "lamb-1",
        "potato-1",
        "daylily-1",
    }


# --- sorting and paging -------------------------------------------------------------------


def test_sort_by_price_name_and_created(search, shop_catalog):
    assert keys(shop_catalog, search("", sort="price", limit=3)) == [
        "potato-1",
        "tea-1",
        "daylily-1",
    ]
    assert keys(shop_catalog, search("", sort="price", descending=True, limit=1)) == ["wine-2"]
    by_name = keys(shop_catalog, search("枸杞", sort="name"))
    names = [shop_catalog[key].name for key in by_name]
    assert sorted(names) == names
    newest = keys(shop_catalog, search("", sort="created", descending=True, limit=1))
    assert newest == ["tea-1"]


def test_paging(search, shop_catalog):
    everything = search("", sort="price", limit=20).ids
    assert search("", sort="price", limit=3, offset=3).ids == everything[3:6]
    page = search("枸杞", limit=2, offset=2)
    assert page.total == 4
    assert page.ids == search("枸杞", limit=4).ids[2:]


# --- suggestions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("中宁", {"goji-1", "goji-2"}),
        ("中宁枸", {"goji-1", "goji-2"}),
        ("gou", set(GOJI)),
        ("hls", {"wine-1", "wine-2"}),
        ("宁夏八", {"tea-1"}),
        ("xiji", {"potato-1"}),
        ("", set()),
    ],
)
def test_suggestions(shop_catalog, prefix, expected):
    found = {s.product_id for s in get_search_backend().suggest(prefix, limit=10)}
    assert set(shop_catalog.keys(found)) >= expected
    if expected:
        top = get_search_backend().suggest(prefix, limit=len(expected))
        assert set(shop_catalog.keys([s.product_id for s in top])) == expected
    else:
        assert not found


def test_suggestions_carry_the_name(shop_catalog):
    (suggestion,) = get_search_backend().suggest("xijimal", limit=1)
    assert suggestion.name == "西吉马铃薯 5kg"
