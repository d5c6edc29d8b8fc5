"""Hostile document shapes, generated: each is answered or refused as JSON with a code, never
INTERNAL_SERVER_ERROR, and the quadratic part of validation stays within its limit whatever the
size of the document. Work is asserted as comparisons counted, not as time."""

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shop.core.graphql.limits import MAX_OVERLAP_PAIRS
from tests.shop.core.validation_work import counting_overlap_comparisons

pytestmark = pytest.mark.smoke

FIELDS = ("id", "name", "slug", "englishName", "__typename")
sizes = st.one_of(st.integers(1, 12), st.integers(13, 400), st.integers(401, 6000))
small_sizes = st.integers(1, 60)
# Each repeated part stays under this many characters, so that a document stays within a few
# times the body limit (a larger one is only ever refused with 413).
PART_CHARS = 40_000


def repeat(unit: str, times: int, separator: str = " ") -> str:
    times = max(1, min(times, PART_CHARS // (len(unit) + len(separator))))
    return separator.join([unit] * times)


@st.composite
def selections(draw, fragment_count: int, size=sizes, nested: bool = False) -> str:
    """A Category selection set body: fields, aliases, directives, inline fragments and spreads,
    each possibly repeated many times."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["field", "alias", "directive", "inline", "spread"]))
        times = draw(size)
        field = draw(st.sampled_from(FIELDS))
        if kind == "field":
            parts.append(repeat(field, times))
        elif kind == "alias":
            parts.append(" ".join(f"a{i % 60}: {field}" for i in range(min(times, 2000))))
        elif kind == "directive":
            parts.append(field + repeat(" @include(if: true)", times, ""))
        elif kind == "inline" and not nested:
            inner = draw(selections(fragment_count, small_sizes, nested=True))
            parts.append(repeat(f"... on Category {{ {inner} }}", times))
        elif kind == "spread" and fragment_count:
            target = draw(st.integers(0, fragment_count - 1))
            parts.append(repeat(f"...F{target}", times))
        else:
            parts.append(field)
    return " ".join(parts)


@st.composite
def fragment_documents(draw) -> tuple[str, dict]:
    """Fragments spreading each other (chains, fan-out, cycles), some never used."""
    count = draw(st.one_of(st.integers(0, 6), st.integers(7, 120)))
    definitions = [
        f"fragment F{i} on Category {{ {draw(selections(count, small_sizes))} }}"
        for i in range(count)
    ]
    root = draw(selections(count))
    return "{ categories { " + root + " } } " + " ".join(definitions), {}


@st.composite
def fan_out_documents(draw) -> tuple[str, dict]:
    depth, width = draw(st.integers(1, 40)), draw(st.integers(1, 4))
    cycle = draw(st.booleans())
    chain = " ".join(
        f"fragment F{i} on Category {{ {f' ...F{i + 1}' * width} }}" for i in range(depth)
    )
    last = "...F0" if cycle else "id"
    return "{ categories { ...F0 } } " + chain + f" fragment F{depth} on Category {{ {last} }}", {}


@st.composite
def deep_literals(draw) -> tuple[str, dict]:
    depth = draw(sizes)
    if draw(st.booleans()):
        literal = "[" * depth + "]" * depth
    else:
        literal = "{price: " * depth + "{}" + "}" * depth
    return "{ products(filter: {categories: " + literal + "}) { totalCount } }", {}


@st.composite
def deep_selections(draw) -> tuple[str, dict]:
    depth = draw(sizes)
    return "{ " + "me { " * depth + "email" + " }" * depth + " }", {}


@st.composite
def deep_variables(draw) -> tuple[str, str]:
    depth = draw(sizes)
    # Built as text: json.dumps itself recurses and would fail first.
    return "query($v: [ID!]) { me { email } }", "[" * depth + "]" * depth


def post(gql, query: str, variables_json: str = "{}"):
    body = '{"query": ' + json.dumps(query) + ', "variables": ' + variables_json + "}"
    return gql.http.post("/graphql/", body, content_type="application/json")


def assert_posted_within_bounds(gql, query: str, variables_json: str = "{}") -> None:
    """Post the document, counting the overlap checks' work, and check the answer's bounds."""
    with counting_overlap_comparisons() as work:
        response = post(gql, query, variables_json)
    assert_answered_within_bounds(response, work)


def assert_answered_within_bounds(response, work: dict[str, int]) -> None:
    assert response.status_code in (200, 400, 413), response.content[:300]
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    codes = [error["extensions"]["code"] for error in payload.get("errors", [])]
    event(f"HTTP {response.status_code} {codes[:1]}")  # --hypothesis-show-statistics
    assert "INTERNAL_SERVER_ERROR" not in codes
    assert all(error["extensions"]["requestId"] for error in payload.get("errors", []))
    assert work["find_conflict"] + work["collect_conflicts_between_fragments"] <= MAX_OVERLAP_PAIRS
    refused_early = [
        error
        for error in payload.get("errors", [])
        if error["extensions"]["code"] == "QUERY_TOO_COMPLEX" and "cost" not in error["message"]
    ]
    if refused_early:
        assert work == {"find_conflict": 0, "collect_conflicts_between_fragments": 0}


hostile = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@hostile
@given(document=st.one_of(fragment_documents(), fan_out_documents()))
def test_repeated_fields_aliases_fragments_and_directives_stay_bounded(gql, document):
    query, _variables = document
    assert_posted_within_bounds(gql, query)


@hostile
@given(document=st.one_of(deep_literals(), deep_selections()))
def test_deep_documents_stay_bounded(gql, document):
    query, _variables = document
    assert_posted_within_bounds(gql, query)


@hostile
@given(document=deep_variables())
def test_deep_variables_stay_bounded(gql, document):
    query, variables = document
    assert_posted_within_bounds(gql, query, '{"v": ' + variables + "}")
