"""The bulk ledger generator writes what booking would have: the ledger's own checks pass on
it, and booking carries on after it."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from bench import generate_ledger
from bench.catalog_dataset import delete_bench_data
from bench.ledger_reports import AUDITOR_EMAIL
from procurement import ledger
from procurement.models import (
    Agency,
    ContributionEntry,
    ContributionImport,
    ContributionRollup,
    LedgerHead,
    LedgerTreeNode,
)
from procurement.reports import rollups
from procurement.reports import selectors as reports
from procurement.services import contributions
from procurement.transparency import merkle, store
from shop.accounts.models import User
from tests.conftest import TEST_LEDGER_SIGNING_KEY

ENTRIES = 3_000
CHUNK = 512


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker):
    """Generated once, committed (the workers COPY on their own connections, which see only
    committed rows), then truncated: entries cannot be deleted, by design."""
    with django_db_blocker.unblock():
        with override_settings(LEDGER_SIGNING_KEY=TEST_LEDGER_SIGNING_KEY):
            # Chunks of 512: five whole subtrees and a partial one, so the tree above the
            # chunks and the partial tail are both exercised.
            generate_ledger.generate(ENTRIES, workers=2, products=60, quiet=True, chunk=CHUNK)
        yield
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE procurement_ledgertreenode, procurement_ledgercheckpoint, "
                "procurement_contributionrollup, procurement_pendingrollup, "
                "procurement_contributionentry, "
                "procurement_contributionimport"
            )
        LedgerHead.objects.all().delete()
        delete_bench_data()
        Agency.objects.filter(credit_code__startswith="12350L").delete()
        User.objects.filter(email=AUDITOR_EMAIL).delete()


def test_verify_passes_on_every_generated_entry_its_rollups_and_tree(generated, db):
    result = ledger.verify()
    assert result.ok, result.problem
    assert result.entries_checked == ENTRIES
    assert LedgerHead.objects.get(pk=1).tree_size == ENTRIES


def test_reconcile_finds_no_difference_and_the_import_batch_holds_its_total(generated, db):
    _expected, booked, differences = ledger.reconcile()
    assert differences == []
    total = ContributionEntry.objects.values_list("amount", flat=True)
    assert booked == Decimal("0.00")  # no order stands behind the other-channel entries
    assert ContributionImport.objects.get().total == sum(total, Decimal("0.00"))


def test_entries_are_numbered_in_date_order_over_the_whole_period(generated, db):
    dates = list(
        ContributionEntry.objects.order_by("position").values_list("business_date", flat=True)
    )
    assert dates == sorted(dates)
    assert (dates[0], dates[-1]) == (date(2021, 1, 1), date(2026, 6, 30))
    assert list(
        ContributionEntry.objects.order_by("position").values_list("position", flat=True)
    ) == list(range(1, ENTRIES + 1))


def test_summaries_from_the_generated_rollups_equal_the_entries(generated, operator):
    for group_by in (["CITY", "CATEGORY"], ["AGENCY", "SUPPLIER"], ["YEAR", "KIND"]):
        summary = reports.contribution_summary(
            acting_user=operator, filters=None, group_by=group_by
        )
        by_entries = reports._from_entries(reports.LedgerFilter(), group_by)
        assert summary.from_rollups
        assert sorted((tuple(k.value for k in r.keys), r.total) for r in summary.rows) == sorted(
            (tuple(k.value for k in r.keys), r.total) for r in by_entries.rows
        )


def test_booking_after_generation_continues_the_positions_and_verifies(generated, operator):
    entry = contributions.contribution_adjust(
        acting_user=operator,
        data=contributions.AdjustmentInput(
            amount="12.00", business_date=date(2026, 7, 1), reason="生成后的调整"
        ),
    )
    assert entry.position == ENTRIES + 1
    assert entry.pk == ENTRIES + 1
    assert ledger.verify().ok
    with override_settings(LEDGER_SIGNING_KEY=TEST_LEDGER_SIGNING_KEY):
        checkpoint = store.checkpoint()  # sequencing carries on from the generated tree
        assert checkpoint.tree_size == ENTRIES + 1
        assert ledger.verify().ok


def test_the_tree_is_the_one_checkpointing_would_have_stored(generated, db):
    leaves = [
        bytes.fromhex(h)
        for h in ContributionEntry.objects.order_by("position").values_list("hash", flat=True)
    ]
    replayed, expected = merkle.CompactRange(), {}
    for n, leaf in enumerate(leaves):
        expected[(0, n)] = leaf
        expected.update({(lv, i): h for lv, i, h in replayed.append(leaf)})
    stored = {
        (lv, i): bytes(h)
        for lv, i, h in LedgerTreeNode.objects.values_list("level", "index", "hash")
    }
    assert stored == expected
    assert store.root_at(ENTRIES) == replayed.root()


def test_every_rollup_cell_equals_what_booking_would_have_added(generated, db):
    """The SQL rebuild against the booking path's own cells (rollups.cells), labels included."""
    booked = {
        key: (label1, label2, total, count)
        for key, (label1, label2, total, count) in rollups.cells(
            ContributionEntry.objects.order_by("position")
        ).items()
    }
    rebuilt = {
        (c.dimensions, c.period, c.month, c.value1, c.value2): (
            c.label1,
            c.label2,
            c.total,
            c.entry_count,
        )
        for c in ContributionRollup.objects.all()
    }
    assert len(rebuilt) == len(booked) > 112
    assert rebuilt == booked
