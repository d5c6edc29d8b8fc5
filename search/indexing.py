"""Keeping the indexes up to date: the outbox, draining it, and reconciling by date.

Catalog services call `products_changed(ids)` inside their transaction whenever something a
search can see changes (name, text, category, origin, price, stock, GI, certification, the
supplier's status). That writes `SearchOutbox` rows in the same transaction, so an update is
never lost: not when the search engine is down, not when the process dies after the commit.
When the transaction commits, the job `search.jobs.drain_outbox` is enqueued and a worker
(`manage.py worker`) drains the rows (`drain`), never the web request: each product's
`ProductSearchEntry` is rewritten (the database backend's index, also the engine backend's
fallback), then the engine, if one is configured, is sent the new documents. Rows whose engine
update failed stay, with a growing back-off (`attempts`, `next_attempt_at`), until the periodic
job `search.jobs.search_sync` (every minute) or a later drain delivers them. With
`JOBS_BACKEND=immediate` (the test suite) the job runs in the committing process instead.

Some changes need no write: a certification or GI authorisation expires with the date, and
checkout moves stock. `reconcile()` (part of `search_sync`) finds entries whose recorded
`sellable`, `gi` or `in_stock` no longer hold and queues them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from catalog.models import Product, ProductVariant
from search import conf, metrics
from search.backends import EngineUnavailable, get_search_backend
from search.entries import sync_entries
from search.models import ProductSearchEntry, SearchOutbox
from shop.core.jobs import enqueue_on_commit

logger = logging.getLogger("search")

BATCH = 500
# How long claimed outbox rows are left to the drain sending them to the engine.
OUTBOX_LEASE = timedelta(seconds=60)


def products_changed(product_ids: Iterable[int]) -> int:
    """Queue these products for re-indexing, in the caller's transaction; they are indexed
    after it commits. Accepts ids or a `values_list("pk", flat=True)` queryset. Returns how
    many rows were queued."""
    now = timezone.now()
    rows = [SearchOutbox(product_id=pk, created_at=now, next_attempt_at=now) for pk in product_ids]
    if not rows:
        return 0
    SearchOutbox.objects.bulk_create(rows, batch_size=BATCH)
    from search.jobs import drain_outbox  # the job module imports this one

    enqueue_on_commit(drain_outbox)
    return len(rows)


@dataclass
class DrainReport:
    indexed: int = 0  # products whose update reached every index
    deferred: int = 0  # products kept in the outbox for a retry
    errors: list[str] = field(default_factory=list)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0) * 5, conf.outbox_max_backoff()))


def drain(*, limit: int | None = None, include_deferred: bool = False) -> DrainReport:
    """Deliver queued updates, oldest first, in batches. `include_deferred` also retries rows
    still waiting out their back-off. Stops at the first engine failure (the rest would fail
    the same way).

    Each batch: one transaction claims the rows, rewrites the entries (the database's index)
    and leases the rows; then the engine is sent the entries with no transaction open; then
    the rows are deleted, or given their back-off if the engine failed."""
    backend = get_search_backend()
    report = DrainReport()
    handled = 0
    while limit is None or handled < limit:
        size = BATCH if limit is None else min(BATCH, limit - handled)
        with transaction.atomic():
            due = SearchOutbox.objects.order_by("id")
            if not include_deferred:
                due = due.filter(next_attempt_at__lte=timezone.now())
            if connection.features.has_select_for_update_skip_locked:
                due = due.select_for_update(skip_locked=True)
            rows = list(due[:size])
            if not rows:
                break
            handled += len(rows)
            ids = sorted({row.product_id for row in rows})
            row_ids = [row.id for row in rows]
            # Serialise concurrent drains of one product: the later one waits here, then
            # reads the newer catalog state and writes it after the earlier one (the engine
            # keeps the newer version whatever order the sends arrive in).
            list(
                ProductSearchEntry.objects.select_for_update()
                .filter(product_id__in=ids)
                .values_list("pk", flat=True)
            )
            entries, missing = sync_entries(ids)
            # Leased while the engine is sent the entries outside this transaction: another
            # drain skips them; after a crash they come due again when the lease ends.
            SearchOutbox.objects.filter(id__in=row_ids).update(
                next_attempt_at=timezone.now() + OUTBOX_LEASE
            )
        try:
            backend.send_entries(entries, missing)  # a network call: no transaction open
        except EngineUnavailable as error:
            message = str(error)
            now = timezone.now()
            for row in rows:
                row.attempts += 1
                row.last_error = message[:2000]
                row.next_attempt_at = now + _backoff(row.attempts)
            SearchOutbox.objects.bulk_update(rows, ["attempts", "last_error", "next_attempt_at"])
            metrics.increment(metrics.INDEX_FAILURES, message)
            logger.warning("search index update of %d products deferred (%s)", len(ids), message)
            report.deferred += len(ids)
            report.errors.append(message)
            break
        SearchOutbox.objects.filter(id__in=row_ids).delete()
        report.indexed += len(ids)
    return report


def pending() -> dict[str, int]:
    """Outbox rows: all, and those that failed at least once."""
    return {
        "pending": SearchOutbox.objects.count(),
        "failing": SearchOutbox.objects.filter(attempts__gt=0).count(),
    }


def reconcile() -> int:
    """Queue products whose entry no longer tells the truth by date or stock: sellable or not
    (`Product.objects.sellable(today)`), a GI that expired, stock that came or went, and
    products that have no entry at all. Returns how many were queued."""
    today = timezone.localdate()
    sellable_now = Exists(Product.objects.sellable(today).filter(pk=OuterRef("product_id")))
    stocked_now = Exists(
        ProductVariant.objects.filter(
            product_id=OuterRef("product_id"), stock__gte=F("minimum_order_quantity")
        )
    )
    stale = (
        ProductSearchEntry.objects.annotate(sellable_now=sellable_now, stocked_now=stocked_now)
        .filter(
            Q(sellable=True, sellable_now=False)
            | Q(sellable=False, sellable_now=True)
            | Q(gi=True, gi_until__lt=today)
            | Q(in_stock=True, stocked_now=False)
            | Q(in_stock=False, stocked_now=True)
        )
        .values_list("product_id", flat=True)
    )
    missing = Product.objects.filter(search_entry__isnull=True).values_list("pk", flat=True)
    ids = sorted({*stale, *missing})
    with transaction.atomic():
        return products_changed(ids)


def rebuild_index(*, progress=None) -> int:
    """Rebuild every index of the configured backend from the catalog (see search_reindex)."""
    return get_search_backend().rebuild(progress=progress)
