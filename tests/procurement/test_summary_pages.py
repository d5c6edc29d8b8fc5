"""contributionSummary in pages (issue 15): `first`/`after` walk the rows in the order of their
keys, `total`, `entryCount` and `rowCount` cover every page, and a page costs the same queries
however many groups the summary has."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procurement.models import ContributionEntry, ContributionRollup
from procurement.reports import rollups
from shop.core.graphql.ids import encode_cursor
from tests.conftest import top_level_codes
from tests.procurement.test_ledger_rollups import adjust

CITIES = ["350100", "350200", "350300"]
CATEGORIES = ["枸杞", "滩羊肉", "葡萄酒"]

QUERY = """query($g: [ContributionDimension!], $f: ContributionFilterInput, $first: Int,
    $after: String) {
  contributionSummary(groupBy: $g, filter: $f, first: $first, after: $after) {
    total { amount } entryCount rowCount
    rows { keys { dimension value } total { amount } entryCount }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


@pytest.fixture
def grid(operator):
    """Entries in 3 cities × 3 categories over two years (18 groups by year, city, category)."""
    for year in (2023, 2024):
        for n, city in enumerate(CITIES):
            for m, category in enumerate(CATEGORIES):
                adjust(
                    operator, f"{10 * n + m + 1}.00", date(year, 3, 1), city=city, category=category
                )
    return operator


def summary(gql, user, group_by, *, first=None, after=None, filters=None):
    variables = {"g": group_by, "first": first, "after": after, "f": filters}
    response = gql(QUERY, variables, user=user)
    assert "errors" not in response, response
    return response["data"]["contributionSummary"]


def walk(gql, user, group_by, size, filters=None):
    """Every page of `size` rows, in order."""
    pages, after = [], None
    while True:
        page = summary(gql, user, group_by, first=size, after=after, filters=filters)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    "group_by",
    [
        ["CITY", "CATEGORY"],  # year cells, two dimensions: keyset over the rollups
        ["YEAR", "CITY"],  # a time key and a dimension
        ["MONTH", "CATEGORY"],  # month cells
        ["KIND", "CITY", "CATEGORY"],  # three dimensions: summed from the entries
    ],
)
def test_pages_walk_every_row_once_in_order_with_the_totals_of_all(gql, grid, group_by):
    whole = summary(gql, grid, group_by, first=1000)
    assert whole["pageInfo"]["hasNextPage"] is False
    assert whole["rowCount"] == len(whole["rows"]) > 2
    pages = walk(gql, grid, group_by, 2)
    assert [row for page in pages for row in page["rows"]] == whole["rows"]
    assert all(len(page["rows"]) == 2 for page in pages[:-1])
    for n, page in enumerate(pages):
        assert page["total"] == whole["total"] == {"amount": "216.00"}
        assert page["entryCount"] == whole["entryCount"] == 18
        assert page["rowCount"] == whole["rowCount"]
        assert page["pageInfo"]["hasPreviousPage"] is (n > 0)


def test_pages_of_a_filtered_summary_total_the_filter_only(gql, grid):
    filters = {"cityCodes": ["350200"]}
    pages = walk(gql, grid, ["CATEGORY"], 2, filters)
    assert [len(page["rows"]) for page in pages] == [2, 1]
    # City 350200's three categories: 11 + 12 + 13 in each of the two years.
    assert {page["total"]["amount"] for page in pages} == {"72.00"}
    assert [r["total"]["amount"] for p in pages for r in p["rows"]] == ["22.00", "24.00", "26.00"]


def test_without_first_a_page_holds_at_most_100_rows(gql, operator):
    for day in range(1, 29):
        for month in range(1, 6):
            adjust(operator, "1.00", date(2024, month, day), category=f"品类{day:02d}{month}")
    page = summary(gql, operator, ["CATEGORY"])
    assert len(page["rows"]) == 100
    assert page["rowCount"] == 140
    assert page["entryCount"] == 140
    assert page["pageInfo"]["hasNextPage"] is True
    rest = summary(gql, operator, ["CATEGORY"], after=page["pageInfo"]["endCursor"])
    assert len(rest["rows"]) == 40
    assert rest["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("first", "after", "group_by"),
    [
        (1001, None, ["CITY"]),
        (-1, None, ["CITY"]),
        (2, "not-a-cursor", ["CITY"]),
        (2, "CATEGORY", ["CITY"]),  # a cursor of another grouping
        (2, encode_cursor("Query.contributionSummary:CITY", [None]), ["CITY"]),
        (2, encode_cursor("Query.contributionSummary:YEAR", ["2024"]), ["YEAR"]),
        (2, encode_cursor("Query.contributionSummary:CITY", ["福州市", "x"]), ["CITY"]),
    ],
)
def test_bad_page_arguments_are_refused_and_nothing_changes(gql, grid, first, after, group_by):
    if after == "CATEGORY":
        after = summary(gql, grid, ["CATEGORY"], first=1)["pageInfo"]["endCursor"]
    entries, cells = ContributionEntry.objects.count(), ContributionRollup.objects.count()
    response = gql(QUERY, {"g": group_by, "first": first, "after": after}, user=grid)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert response["data"] is None or response["data"].get("contributionSummary") is None
    assert (ContributionEntry.objects.count(), ContributionRollup.objects.count()) == (
        entries,
        cells,
    )


def test_a_page_costs_the_same_queries_however_many_groups(gql, grid, operator):
    def queries(group_by, after=None) -> int:
        with CaptureQueriesContext(connection) as captured:
            summary(gql, grid, group_by, first=2, after=after)
        return len(captured.captured_queries)

    small = queries(["CATEGORY", "KIND"])
    for n in range(30):
        adjust(operator, "1.00", date(2024, 5, 1), category=f"新品类{n}")
    assert queries(["CATEGORY", "KIND"]) == small
    middle = summary(gql, grid, ["CATEGORY", "KIND"], first=10)["pageInfo"]["endCursor"]
    assert queries(["CATEGORY", "KIND"], middle) == small


def test_row_count_counts_each_group_once_in_the_cells_pending_or_both(gql, operator):
    adjust(operator, "1.00", date(2024, 3, 1), city=CITIES[0], category=CATEGORIES[0])
    adjust(operator, "2.00", date(2024, 3, 1), city=CITIES[1], category=CATEGORIES[0])
    rollups.fold()
    assert ContributionRollup.objects.exists()
    # One more entry in a folded group, one in a group only pending.
    adjust(operator, "3.00", date(2024, 4, 1), city=CITIES[1], category=CATEGORIES[0])
    adjust(operator, "4.00", date(2024, 4, 1), city=CITIES[2], category=CATEGORIES[1])
    for group_by in (["CITY", "CATEGORY"], ["YEAR", "CITY"], ["MONTH", "CATEGORY"]):
        whole = summary(gql, operator, group_by, first=1000)
        page = summary(gql, operator, group_by, first=1)
        assert page["rowCount"] == whole["rowCount"] == len(whole["rows"])
    assert summary(gql, operator, ["CITY", "CATEGORY"], first=1)["rowCount"] == 3
    assert summary(gql, operator, ["MONTH", "CATEGORY"], first=1)["rowCount"] == 3
