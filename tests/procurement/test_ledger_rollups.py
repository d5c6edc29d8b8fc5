"""The ledger's rollups at both levels (month and year): kept by booking and folding, rebuilt
from the entries, and answering summaries exactly as the entries would, with some entries
still waiting for the fold."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from procurement import ledger
from procurement.models import ContributionEntry, ContributionRollup, RollupPeriod
from procurement.reports import rollups
from procurement.reports import selectors as reports
from procurement.services import contributions
from tests.procurement.test_ledger import counted_order

CELL_FIELDS = (
    "dimensions",
    "period",
    "month",
    "value1",
    "value2",
    "label1",
    "label2",
    "total",
    "entry_count",
)


def adjust(operator, amount: str, day: date, *, kind="PURCHASE", city="", category=""):
    return contributions.contribution_adjust(
        acting_user=operator,
        data=contributions.AdjustmentInput(
            amount=amount,
            business_date=day,
            reason="对账调整",
            kind=kind,
            agency_city_code=city,
            category=category,
        ),
    )


@pytest.fixture
def ledger_over_years(operator):
    """Orders booked today and corrections spread over three years, cities and categories; the
    first four folded into the cells, the others (on PostgreSQL) still pending."""
    counted_order(operator, quantity=3, price="20.00")
    counted_order(operator, quantity=2, price="35.50", agency_type="SUPERMARKET")
    adjust(operator, "120.00", date(2023, 1, 1), city="350100", category="枸杞")
    adjust(operator, "-20.00", date(2023, 12, 31), city="350200", category="枸杞")
    rollups.fold()
    adjust(operator, "75.25", date(2024, 2, 29), kind="HELPED_SALES", category="滩羊肉")
    adjust(operator, "10.00", date(2024, 7, 15), city="350100")
    adjust(operator, "-3.10", date(2025, 6, 1), city="350200", category="滩羊肉")
    return operator


def cells() -> list[tuple]:
    return sorted(ContributionRollup.objects.values_list(*CELL_FIELDS))


def test_folding_keeps_a_year_cell_equal_to_the_sum_of_its_month_cells(ledger_over_years):
    rollups.fold()
    months: dict[tuple, list] = {}
    for dims, start, v1, v2, total, count in ContributionRollup.objects.filter(
        period=RollupPeriod.MONTH
    ).values_list("dimensions", "month", "value1", "value2", "total", "entry_count"):
        year = months.setdefault((dims, start.replace(month=1), v1, v2), [Decimal(0), 0])
        year[0] += total
        year[1] += count
    years = {
        (dims, start, v1, v2): [total, count]
        for dims, start, v1, v2, total, count in ContributionRollup.objects.filter(
            period=RollupPeriod.YEAR
        ).values_list("dimensions", "month", "value1", "value2", "total", "entry_count")
    }
    assert years == months
    assert {start.year for (_d, start, _v1, _v2) in years} >= {2023, 2024, 2025}


def test_folding_writes_every_grouping_at_both_levels(ledger_over_years):
    rollups.fold()
    for period in RollupPeriod.values:
        groupings = ContributionRollup.objects.filter(period=period).values("dimensions")
        assert groupings.distinct().count() == len(rollups.GROUPINGS) == 56


def test_rebuild_command_recomputes_month_and_year_cells_as_folding_left_them(
    ledger_over_years, capsys
):
    rollups.fold()
    booked = cells()
    ContributionRollup.objects.filter(period=RollupPeriod.YEAR).delete()
    call_command("ledger_rebuild_rollups")
    assert f"Rolled up {ContributionEntry.objects.count()} entries." in capsys.readouterr().out
    assert cells() == booked


def test_rebuild_in_one_pass_matches_rolling_up_entry_by_entry(ledger_over_years):
    assert connection.vendor == "postgresql"  # the one-pass rebuild is PostgreSQL's
    rollups.rebuild()
    in_sql = cells()
    ContributionRollup.objects.all().delete()
    rollups.add(ContributionEntry.objects.order_by("position"))
    assert cells() == in_sql


def test_verify_finds_a_year_cell_that_no_longer_matches_its_entries(ledger_over_years):
    rollups.fold()
    ContributionRollup.objects.filter(
        dimensions="", period=RollupPeriod.YEAR, month=date(2024, 1, 1)
    ).update(total=Decimal("1.00"))
    result = ledger.verify()
    assert not result.ok
    assert result.problem == "the rollup of 2024 does not match its entries"


GROUPS = [[d] for d in reports.GROUP_DIMENSIONS if d not in reports.TIME_DIMENSIONS] + [
    ["CITY", "CATEGORY"],
    ["KIND", "CITY"],
    ["AGENCY", "SUPPLIER"],
    ["YEAR", "CATEGORY"],
    ["MONTH", "KIND"],
    ["YEAR"],
]
RANGES = [
    (None, None),
    (date(2023, 1, 1), date(2024, 12, 31)),  # whole years: year cells
    (date(2024, 1, 1), None),
    (date(2023, 12, 1), date(2024, 2, 29)),  # whole months only: month cells
]


def rows(summary: reports.Summary) -> list[tuple]:
    return [
        (tuple((k.dimension, k.value, k.label) for k in r.keys), r.total, r.entry_count)
        for r in summary.rows
    ]


@pytest.mark.parametrize("group_by", GROUPS, ids="+".join)
def test_summaries_from_rollups_equal_the_entries_at_every_level(ledger_over_years, group_by):
    for date_from, date_to in RANGES:
        filters = reports.LedgerFilter(date_from, date_to)
        summary = reports.contribution_summary(
            acting_user=ledger_over_years, filters=filters, group_by=group_by
        )
        by_entries = reports._from_entries(filters, group_by)
        assert summary.from_rollups
        # Sorted: the rollups order ids as text, the entries as numbers.
        assert sorted(rows(summary)) == sorted(rows(by_entries)), (date_from, date_to)
        assert summary.total == by_entries.total


def test_a_whole_year_summary_reads_year_cells_in_one_query(
    ledger_over_years, django_assert_num_queries
):
    filters = reports.LedgerFilter(date(2024, 1, 1), date(2024, 12, 31))
    with django_assert_num_queries(1) as captured:
        summary = reports._from_rollups(filters, ["CATEGORY"], ["CATEGORY"])
    assert "'YEAR'" in captured.captured_queries[0]["sql"]
    assert {row.keys[0].value: row.total for row in summary.rows} == {
        "滩羊肉": Decimal("75.25"),
        "": Decimal("10.00"),
    }


def test_target_progress_by_year_equals_the_entries_of_each_year(ledger_over_years):
    from procurement.models import Target

    target = Target.objects.create(
        code="rollup-years",
        name="三年目标",
        amount=Decimal("1000.00"),
        start_date=date(2023, 1, 1),
        end_date=date(2025, 6, 15),  # two whole years, whole months, then a partial month
    )
    progress = reports.target_progress(target, today=date(2025, 6, 15))
    expected = {2023: Decimal("100.00"), 2024: Decimal("85.25"), 2025: Decimal("-3.10")}
    assert {row.year: row.amount for row in progress.by_year} == expected
