"""Procurement's figures for /metrics, read from the database at each scrape (registered with
shop/core/metrics.py by the procurement app): pending payments and the transparency log."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from procurement.models import (
    LedgerCheckpoint,
    LedgerHead,
    Payment,
    PaymentState,
    PendingRollup,
)
from shop.core.metrics import age_seconds


def procurement_figures() -> Iterator[Metric]:
    pending = Payment.objects.filter(state=PaymentState.PENDING)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    head = LedgerHead.objects.order_by("pk").first()
    checkpoint = LedgerCheckpoint.objects.order_by("-id").first()
    gauges = [
        ("shanhai_payments_pending", "Payments started and not yet settled.", pending.count()),
        (
            "shanhai_payments_pending_oldest_age_seconds",
            "How long the oldest pending payment has waited (0 when none).",
            age_seconds(oldest),
        ),
        (
            "shanhai_ledger_tree_size",
            "Ledger entries sequenced into the transparency log's Merkle tree.",
            head.tree_size if head else 0,
        ),
        (
            "shanhai_ledger_rollup_pending",
            "Ledger entries booked and not yet folded into the rollup cells (reports count them "
            "all the same; a growing number means the fold job is not running).",
            PendingRollup.objects.count(),
        ),
        (
            "shanhai_ledger_checkpoint_tree_size",
            "Tree size of the latest signed checkpoint.",
            checkpoint.tree_size if checkpoint else 0,
        ),
        (
            "shanhai_ledger_last_checkpoint_age_seconds",
            "Seconds since the latest signed checkpoint (0 when there is none yet).",
            age_seconds(checkpoint.created_at if checkpoint else None),
        ),
    ]
    for name, documentation, value in gauges:
        yield GaugeMetricFamily(name, documentation, value=value)
