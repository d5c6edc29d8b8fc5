import pytest

from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.shop.core.validation_work import counting_overlap_comparisons

pytestmark = pytest.mark.smoke


def nested_query(depth: int) -> str:
    # node(id) { ... on User { ... } } cannot nest, so nest through the relay node interface
    # with fragments of `me` is impossible; build a syntactically deep selection instead.
    inner = "email"
    for _ in range(depth - 1):
        inner = f"me {{ {inner} }}"
    return "{ " + inner + " }"


def test_thirty_deep_query_is_refused(gql):
    response = gql(nested_query(30))
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert response["errors"][0]["message"] == "The query is 30 levels deep; the limit is 12."


def test_fifty_one_aliases_are_refused(gql):
    query = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(51)) + " }"
    response = gql(query)
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert response["errors"][0]["message"] == "The query uses more than 50 aliases."


def test_a_few_aliases_are_fine(gql):
    query = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(10)) + " }"
    assert gql(query) == {"data": {f"a{i}": None for i in range(10)}}


def test_cost_limit_multiplies_page_sizes(gql, operator, settings):
    settings.GRAPHQL_MAX_COST = 500
    query = "query($n: Int) { users(first: $n) { edges { node { email role isActive } } } }"
    ok = gql(query, {"n": 50}, user=operator)
    assert "errors" not in ok
    refused = gql(query, {"n": 100}, user=operator)
    assert top_level_codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert "cost" in refused["errors"][0]["message"]


def test_page_size_over_the_maximum_is_bad_input(gql, operator):
    response = gql("{ users(first: 101) { totalCount } }", user=operator)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert response["errors"][0]["message"] == "`first` must be between 0 and 100; got 101."


def test_bad_cursor_is_bad_input(gql, operator):
    response = gql('{ users(first: 5, after: "garbage") { totalCount } }', user=operator)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]


def test_oversized_body_is_refused_before_parsing(gql, settings):
    settings.GRAPHQL_MAX_BODY_BYTES = 1000
    response = gql.raw("{ me { email } }" + " " * 2000)
    assert response.status_code == 413
    assert top_level_codes(response.json()) == ["REQUEST_TOO_LARGE"]


def test_pagination_walks_every_user_once(gql, operator):
    UserFactory.create_batch(7)
    query = """query($after: String) { users(first: 3, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { email } } } }"""
    seen, after = [], None
    while True:
        page = gql(query, {"after": after}, user=operator)["data"]["users"]
        assert page["totalCount"] == 8
        seen += [edge["node"]["email"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 8 == len(set(seen))


def fragments(count: int, body) -> str:
    return " ".join(f"fragment F{i} on Category {{ {body(i)} }}" for i in range(count))


def test_a_field_repeated_two_hundred_times_is_refused_before_validation(gql):
    with counting_overlap_comparisons() as work:
        response = gql("{ categories { " + " id" * 200 + " } }")
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert "select each field once" in response["errors"][0]["message"]
    assert work == {"find_conflict": 0, "collect_conflicts_between_fragments": 0}


def test_the_15_kb_repeated_field_query_is_refused_while_parsing(gql):
    query = "{ categories { " + " id" * 4999 + " } }"
    with counting_overlap_comparisons() as work:
        response = gql.raw(query)
    assert response.status_code == 400
    assert top_level_codes(response.json()) == ["QUERY_TOO_COMPLEX"]
    assert response.json()["errors"][0]["message"] == "The document has more than 5000 tokens."
    assert work["find_conflict"] == 0


def test_a_field_repeated_a_few_times_is_answered(gql):
    response = gql("{ categories { id id id } }")
    assert "errors" not in response
    assert response["data"]["categories"] == gql("{ categories { id } }")["data"]["categories"]
    assert response["data"]["categories"]  # reference data from the migrations


def test_repeats_spread_through_many_fragments_are_refused(gql):
    spreads = " ".join(f"...F{i}" for i in range(100))
    response = gql("{ categories { " + spreads + " } } " + fragments(100, lambda i: "id"))
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert "select each field once" in response["errors"][0]["message"]


def test_repeats_inside_an_unused_fragment_are_refused_before_validation(gql):
    query = "{ categories { id } } fragment Unused on Category {" + " id" * 300 + " }"
    with counting_overlap_comparisons() as work:
        response = gql(query)
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert work["find_conflict"] == 0


def test_a_fragment_fan_out_ending_in_a_cycle_is_refused(gql):
    # Each fragment spreads the next twice and the last spreads the first: 2^30 spreads and no
    # field at all, so counting fields alone would never stop the walk.
    chain = fragments(30, lambda i: f"...F{i + 1} ...F{i + 1}")
    with counting_overlap_comparisons() as work:
        response = gql("{ categories { ...F0 } } " + chain + " fragment F30 on Category { ...F0 }")
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert work == {"find_conflict": 0, "collect_conflicts_between_fragments": 0}


def test_more_than_a_hundred_fragments_are_refused(gql):
    query = "{ categories { ...F0 } } " + fragments(101, lambda i: "name")
    response = gql(query)
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert response["errors"][0]["message"] == "The document defines more than 100 fragments."


def test_the_token_limit_is_a_setting(gql, settings):
    settings.GRAPHQL_MAX_TOKENS = 20
    assert "errors" not in gql("{ categories { id name } }")
    response = gql("{ categories { " + "id name " * 10 + "} }")
    assert top_level_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert response["errors"][0]["message"] == "The document has more than 20 tokens."


def test_a_5000_deep_list_literal_is_refused_as_json(gql):
    literal = "[" * 5000 + "]" * 5000
    response = gql.raw("{ products(filter: {categories: " + literal + "}) { totalCount } }")
    assert response.status_code == 400
    assert top_level_codes(response.json()) == ["QUERY_TOO_COMPLEX"]
    assert response.json()["errors"][0]["message"] == (
        "The document nests brackets more than 64 deep."
    )


def test_a_3000_deep_selection_is_refused_as_json(gql):
    response = gql.raw("{ " + "me { " * 3000 + "email" + " }" * 3000 + " }")
    assert response.status_code == 400
    assert top_level_codes(response.json()) == ["QUERY_TOO_COMPLEX"]
