"""Procurement jobs: ledger checkpoints and checks, payment settlement and reminders, large
exports.

All idempotent: a checkpoint sequences only entries not yet in the tree; a fold adds only the
entries still pending to the rollups; verify and reconcile only read; settlement acts on what
is still PENDING; a payment reminder is recorded once per order, kind and due date; an export
rewrites its whole file."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from procurement import ledger
from procurement.reports import rollups
from procurement.services import transparency
from procurement.services.payment_terms import send_payment_reminders
from procurement.services.payments import payments_reconcile as settle_pending
from procurement.transparency import store
from shop.core.jobs import job


class LedgerCheckFailed(Exception):
    """The ledger's check found a fault: the job fails, and its log line is an ERROR."""


@job(max_attempts=3, backoff_seconds=30)
def ledger_checkpoint() -> dict[str, object]:
    folded = rollups.fold()
    made = store.checkpoint()
    return {"tree_size": made.tree_size, "root_hash": made.root_hash, "folded": folded}


@job(max_attempts=1)
def ledger_rollups_fold() -> dict[str, int]:
    """Every few seconds: add the entries booked since the last fold to the rollup cells
    (reports are exact meanwhile; the fold keeps what they sum from the entries small). A failed
    run is simply the next run's work."""
    return {"folded": rollups.fold()}


@job(max_attempts=1)
def ledger_verify() -> dict[str, object]:
    result = ledger.verify()
    if not result.ok:
        raise LedgerCheckFailed(
            f"Ledger broken after {result.entries_checked} good entries: {result.problem}"
        )
    return {"entries_checked": result.entries_checked}


@job(max_attempts=1)
def ledger_reconcile() -> dict[str, str]:
    expected, booked, differences = ledger.reconcile()
    if differences:
        raise LedgerCheckFailed(
            f"{len(differences)} orders differ: "
            + ", ".join(d.order_number for d in differences[:20])
        )
    return {"expected": str(expected), "booked": str(booked)}


@job(max_attempts=1)
def payments_reconcile() -> dict[str, int]:
    """Settle card payments and refunds left PENDING (every few minutes; the next run is the
    retry of whatever the gateway could not answer)."""
    report = settle_pending(abandon_after=timedelta(hours=24), refunds_within=timedelta(days=90))
    if report.errors:
        raise LedgerCheckFailed(f"{len(report.errors)} could not be settled; they stay pending")
    return {
        "payments_checked": report.payments_checked,
        "refunds_checked": report.refunds_checked,
        "cancelled": report.cancelled,
    }


@job(max_attempts=3, backoff_seconds=600)
def payment_reminders() -> dict[str, int]:
    """Daily: remind buyers of accepted orders whose payment is nearly or already due. Retried
    within the day (a reminder a day late is the point missed); one already sent is not again."""
    report = send_payment_reminders()
    return {"sent": report.sent, "already_sent": report.already_sent}


@job(max_attempts=3, backoff_seconds=30)
def ledger_export_file(out: str, size: int | None = None) -> dict[str, object]:
    """Write the tree's entries (JSON lines, for `shanhai-verify`) to `out`: into a temporary
    file beside it, renamed over it at the end, so a killed run leaves no half file."""
    target = Path(out)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            lines = 0
            for line in transparency.tree_lines(size):
                stream.write(line)
                lines += 1
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return {"out": str(target), "entries": lines}
