"""Rollups off the booking's path: a booking records its entries as pending, the fold moves
them into the cells, and every report is exact before, during and after the fold, with real
concurrent bookers and folds on PostgreSQL."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from procurement import ledger
from procurement.jobs import ledger_checkpoint, ledger_rollups_fold
from procurement.models import (
    ContributionEntry,
    ContributionRollup,
    LedgerIsAppendOnly,
    PendingRollup,
    RollupPeriod,
)
from procurement.reports import rollups
from procurement.reports import selectors as reports
from procurement.selectors import agency_achieved
from procurement.transparency import merkle
from tests.procurement.test_ledger_transparency import adjust, stored_entry

CELL_FIELDS = ("dimensions", "period", "month", "value1", "value2", "label1", "label2")


def cells() -> list[tuple]:
    return sorted(ContributionRollup.objects.values_list(*CELL_FIELDS, "total", "entry_count"))


def summary_rows(operator, group_by, filters=None) -> list[tuple]:
    summary = reports.contribution_summary(acting_user=operator, filters=filters, group_by=group_by)
    assert summary.from_rollups
    return [
        (tuple((k.dimension, k.value, k.label) for k in r.keys), r.total, r.entry_count)
        for r in summary.rows
    ]


def entry_rows(group_by, filters=None) -> list[tuple]:
    return [
        (tuple((k.dimension, k.value, k.label) for k in r.keys), r.total, r.entry_count)
        for r in reports._from_entries(filters or reports.LedgerFilter(), group_by).rows
    ]


def book_spread(operator) -> None:
    adjust(operator, "10.00", city_code="350200", day=date(2025, 3, 1))
    adjust(operator, "20.50", city_code="350100", category="滩羊肉", day=date(2025, 3, 31))
    adjust(operator, "-3.10", city_code="350200", day=date(2024, 7, 15))


GROUPS = [["CITY"], ["YEAR", "CATEGORY"], ["MONTH", "CITY"], ["CITY", "CATEGORY"], ["YEAR"]]


@pytest.mark.smoke
def test_reports_are_the_entries_before_and_after_the_fold(operator):
    book_spread(operator)
    for group_by in GROUPS:
        assert sorted(summary_rows(operator, group_by)) == sorted(entry_rows(group_by))
    assert ledger.verify().ok
    rollups.fold()
    assert not PendingRollup.objects.exists()
    for group_by in GROUPS:
        assert sorted(summary_rows(operator, group_by)) == sorted(entry_rows(group_by))
    assert ledger.verify().ok
    assert rollups.fold() == 0


@pytest.mark.postgres
def test_a_booking_writes_no_cell_and_one_pending_row_per_entry(operator):
    book_spread(operator)
    assert not ContributionRollup.objects.exists()
    assert sorted(PendingRollup.objects.values_list("entry_id", flat=True)) == sorted(
        ContributionEntry.objects.values_list("pk", flat=True)
    )
    assert rollups.fold() == 3
    assert not PendingRollup.objects.exists()
    everything = ContributionRollup.objects.get(
        dimensions="", period=RollupPeriod.YEAR, month=date(2025, 1, 1)
    )
    assert (everything.total, everything.entry_count) == (Decimal("30.50"), 2)


@pytest.mark.postgres
def test_booking_stores_any_number_of_entries_in_one_statement(operator, django_assert_num_queries):
    def entries(first: int, count: int) -> list[ContributionEntry]:
        return [
            stored_entry(0, Decimal("1.00"), source_key=f"bulk:{n}")
            for n in range(first, first + count)
        ]

    ledger.append(entries(0, 1))  # the connection's first booking prepares the statement
    # Positions from the sequence, leaf hashes, the entries and their pending rows: one
    # statement, whatever the number of entries.
    with django_assert_num_queries(1):
        ledger.append(entries(1, 1))
    with django_assert_num_queries(1):
        booked = ledger.append(entries(2, 200))
    assert PendingRollup.objects.count() == ContributionEntry.objects.count() == 202
    assert [entry.position for entry in booked] == sorted(entry.position for entry in booked)
    assert all(entry.hash == merkle.leaf_hash(ledger.encoded_leaf(entry)).hex() for entry in booked)
    # Stored as the model would: ids set, the rows read back equal, and still append-only.
    again = ContributionEntry.objects.get(pk=booked[-1].pk)
    assert [getattr(again, f.attname) for f in ContributionEntry._meta.concrete_fields] == [
        getattr(booked[-1], f.attname) for f in ContributionEntry._meta.concrete_fields
    ]
    assert ledger.verify().ok
    with pytest.raises(LedgerIsAppendOnly):
        booked[0].save()


@pytest.mark.postgres
def test_folds_in_steps_add_up_to_what_a_rebuild_computes(operator):
    book_spread(operator)
    rollups.fold()
    book_spread(operator)  # the same cells again, and their labels
    adjust(operator, "7.00", city_code="350100", day=date(2025, 3, 2))
    assert rollups.fold() == 4
    folded = cells()
    rollups.rebuild()
    assert cells() == folded


@pytest.mark.postgres
def test_a_rebuild_takes_the_pending_entries_and_leaves_none(operator):
    book_spread(operator)
    assert rollups.rebuild() == 3
    assert not PendingRollup.objects.exists()
    assert rollups.fold() == 0
    assert sorted(summary_rows(operator, ["CITY"])) == sorted(entry_rows(["CITY"]))


@pytest.mark.postgres
def test_verify_finds_an_entry_that_neither_a_cell_nor_a_pending_row_counts(operator):
    book_spread(operator)
    rollups.fold()
    adjust(operator, "5.00", day=date(2025, 3, 1))
    assert ledger.verify().ok  # pending, so counted beside the cells
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procurement_pendingrollup")
    result = ledger.verify()
    assert not result.ok
    assert result.problem == "the rollup of 2025-03 does not match its entries"


@pytest.mark.postgres
def test_an_agencys_reserved_share_counts_its_pending_entries(operator):
    from tests.procurement.test_ledger import counted_order

    order, _user = counted_order(operator, quantity=2, price="30.00")
    year = ContributionEntry.objects.get().business_date.year
    assert PendingRollup.objects.exists()
    assert agency_achieved(order.agency_id, year) == Decimal("60.00")
    rollups.fold()
    assert agency_achieved(order.agency_id, year) == Decimal("60.00")
    assert agency_achieved(order.agency_id, year - 1) == Decimal("0.00")


def test_the_fold_job_folds_what_is_pending_and_the_checkpoint_job_too(operator, db):
    adjust(operator, "7.00")
    adjust(operator, "8.00")
    pending = 2 if connection.vendor == "postgresql" else 0  # SQLite adds to the cells at once
    assert ledger_rollups_fold.enqueue().return_value == {"folded": pending}
    adjust(operator, "9.00")
    made = ledger_checkpoint.enqueue().return_value
    assert (made["tree_size"], made["folded"]) == (3, pending // 2)
    assert not PendingRollup.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bookers_racing_a_fold_count_every_entry_once_and_no_reading_is_ever_off():
    """Eight bookers, a fold run over and over, and a reader, each on its own connection. The
    reader's totals never go down (an entry counted twice, then once, or missed, then found,
    would), every entry is folded exactly once, nothing deadlocks."""
    from tests.factories import UserFactory

    operator = UserFactory(role="OPERATOR")
    bookers, each = 8, 12
    done = threading.Event()
    folded: list[int] = []
    readings: list[tuple[Decimal, int]] = []
    errors: list[BaseException] = []

    def book(n: int) -> None:
        for k in range(each):
            adjust(operator, f"{n + 1}.{k:02d}", city_code=("350200", "350100")[k % 2])

    def fold_until_done() -> None:
        while not done.is_set():
            folded.append(rollups.fold())

    def read_until_done() -> None:
        while not done.is_set():
            summary = reports.contribution_summary(
                acting_user=operator, filters=None, group_by=["CITY"]
            )
            readings.append((summary.total, summary.entry_count))

    def run(call, *args) -> None:
        try:
            call(*args)
        except BaseException as error:  # noqa: BLE001 - the test asserts none was raised
            errors.append(error)
        finally:
            connection.close()

    helpers = [threading.Thread(target=run, args=(f,)) for f in (fold_until_done, read_until_done)]
    workers = [threading.Thread(target=run, args=(book, n)) for n in range(bookers)]
    for thread in helpers + workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=300)
    done.set()
    for thread in helpers:
        thread.join(timeout=300)
    close_old_connections()

    assert errors == []
    folded.append(rollups.fold())
    count = ContributionEntry.objects.count()
    assert count == bookers * each
    assert sum(folded) == count  # each entry folded exactly once
    assert not PendingRollup.objects.exists()
    assert len(readings) > 1
    assert readings == sorted(readings, key=lambda r: r[1])
    assert [total for total, _ in readings] == sorted(total for total, _ in readings)
    expected = sum(Decimal(f"{n + 1}.{k:02d}") for n in range(bookers) for k in range(each))
    month = ContributionRollup.objects.get(dimensions="", period=RollupPeriod.MONTH)
    assert (month.total, month.entry_count) == (expected, count)
    assert sorted(summary_rows(operator, ["CITY"])) == sorted(entry_rows(["CITY"]))
    assert ledger.verify().ok
