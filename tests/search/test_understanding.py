"""Search as buyers type (issue 13) over /graphql/, on every backend: traditional characters,
synonyms, spaced pinyin, typos shown as "showing results for …", partial matches flagged,
specs and GI phrases indexed, suggestions; nonsense still finds nothing."""

import pytest

from search.backends import get_search_backend
from tests.factories import VariantFactory
from tests.search.conftest import GOJI

SEARCH = """
query($q: String!) {
  search(query: $q, first: 20) {
    totalCount correctedQuery partial
    edges { node { name } }
  }
}"""
SUGGEST = "query($q: String!) { searchSuggestions(query: $q) { text } }"


def run(gql, query):
    response = gql(SEARCH, {"q": query})
    assert "errors" not in response, response
    return response["data"]["search"]


def names(data) -> set[str]:
    return {edge["node"]["name"] for edge in data["edges"]}


def test_traditional_characters_find_simplified_names(gql, shop_catalog):
    data = run(gql, "鹽池灘羊")
    assert names(data) == {shop_catalog["lamb-1"].name}
    assert data["correctedQuery"] is None


def test_an_everyday_word_finds_the_catalog_word(gql, shop_catalog):
    assert shop_catalog["potato-1"].name in names(run(gql, "土豆"))


def test_an_english_word_finds_the_product(gql, shop_catalog):
    assert names(run(gql, "lamb")) == {shop_catalog["lamb-1"].name}


@pytest.mark.parametrize("typed", ["gou qi", "gǒuqǐ", "gou3qi3"])
def test_spaced_and_toned_pinyin_find_what_joined_pinyin_finds(gql, shop_catalog, typed):
    assert names(run(gql, typed)) == names(run(gql, "gouqi"))


@pytest.mark.parametrize("typo", ["枸祀", "苟杞", "gouji"])
def test_a_typo_is_corrected_and_said_so(gql, shop_catalog, typo):
    data = run(gql, typo)
    assert data["correctedQuery"] == "枸杞"
    assert {shop_catalog[key].name for key in GOJI} <= names(data)
    assert data["partial"] is False


def test_a_query_that_finds_something_as_typed_is_not_corrected(gql, shop_catalog):
    data = run(gql, "枸杞")
    assert data["correctedQuery"] is None
    assert data["totalCount"] > 0


def test_when_no_product_has_every_word_partial_matches_are_flagged(gql, shop_catalog):
    data = run(gql, "西吉 铁观音")
    assert data["partial"] is True
    assert names(data) == {shop_catalog["potato-1"].name}


@pytest.mark.parametrize("nonsense", ["手机", "iphone", "海鲜", "猪肉"])
def test_nonsense_still_finds_nothing(gql, shop_catalog, nonsense):
    data = run(gql, nonsense)
    assert data == {"totalCount": 0, "correctedQuery": None, "partial": False, "edges": []}


def test_a_variant_spec_is_searchable_but_ranks_below_a_name(gql, shop_catalog):
    VariantFactory(product=shop_catalog["potato-1"], spec="10kg 家庭装")
    get_search_backend().rebuild()
    assert names(run(gql, "家庭装")) == {shop_catalog["potato-1"].name}
    ranked = [edge["node"]["name"] for edge in run(gql, "礼盒")["edges"]]
    assert ranked[0] == shop_catalog["wine-2"].name  # 礼盒 in its name


def test_the_gi_phrase_finds_products_with_a_gi(gql, shop_catalog):
    with_gi = {shop_catalog[key].name for key in ("goji-1", "goji-2", "wine-1", "wine-2")}
    with_gi |= {shop_catalog[key].name for key in ("lamb-1", "potato-1")}
    assert names(run(gql, "地理标志")) == with_gi


@pytest.mark.parametrize("typed", ["灘羊", "tan yang", "lamb"])
def test_suggestions_understand_traditional_pinyin_and_synonyms(gql, shop_catalog, typed):
    response = gql(SUGGEST, {"q": typed})
    assert "errors" not in response, response
    texts = [s["text"] for s in response["data"]["searchSuggestions"]]
    assert texts == [shop_catalog["lamb-1"].name]
