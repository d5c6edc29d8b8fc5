"""Booking the contribution ledger (docs/design.md §3, 统计口径).

A contribution is booked when an order is both accepted and paid: one entry per order line for
the paid value of its accepted goods, dated at the later of the two events in Asia/Shanghai. A
refund books negative entries, spread over the lines in proportion to their accepted value.
Bookings are serialised on the ledger head row so the hash chain stays linear.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.models import FUJIAN, NINGXIA
from procurement.models import (
    RESELLER_TYPES,
    ContributionEntry,
    ContributionKind,
    ContributionSource,
    LedgerHead,
    Order,
    OrderStatus,
    PaymentStatus,
    Refund,
)
from shop.core import validation
from shop.core.money import quantize_cny

GENESIS_HASH = "0" * 64
# Every field the hash covers, in order. Changing one of them in an entry breaks the chain.
HASHED_FIELDS = (
    "position",
    "kind",
    "source",
    "amount",
    "booked_at",
    "business_date",
    "source_key",
    "order_id",
    "order_line_id",
    "refund_id",
    "import_batch_id",
    "invoice_number",
    "seller_credit_code",
    "reason",
    "channel",
    "buyer_province",
    "agency_id",
    "agency_name",
    "agency_type",
    "agency_city",
    "supplier_id",
    "supplier_name",
    "origin_province",
    "origin_county_code",
    "origin_county_name",
    "category",
    "product_id",
    "product_name",
    "created_by_id",
    "prev_hash",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def entry_hash(entry: ContributionEntry) -> str:
    content = [_canonical(getattr(entry, name)) for name in HASHED_FIELDS]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def kind_for(agency_type: str) -> str:
    return (
        ContributionKind.HELPED_SALES
        if agency_type in RESELLER_TYPES
        else ContributionKind.PURCHASE
    )


def append(entries: Iterable[ContributionEntry]) -> list[ContributionEntry]:
    """Chain and store new entries; the caller is inside a transaction."""
    entries = validation.checked_rows(entries)
    if not entries:
        return []
    head, _created = LedgerHead.objects.select_for_update().get_or_create(pk=1)
    position, previous = head.last_position, head.last_hash
    now = timezone.now()
    for entry in entries:
        position += 1
        entry.position, entry.prev_hash = position, previous
        entry.booked_at = entry.booked_at or now
        entry.amount = quantize_cny(entry.amount)
        entry.hash = previous = entry_hash(entry)
    ContributionEntry.objects.bulk_create(entries)
    LedgerHead.objects.filter(pk=1).update(last_position=position, last_hash=previous)
    from procurement.reports import rollups

    rollups.add(entries)
    return entries


def _order_dimensions(order: Order, line) -> dict[str, Any]:
    return {
        "kind": kind_for(order.agency_type),
        "order": order,
        "order_line": line,
        "channel": "SHANHAI",
        "buyer_province": FUJIAN,
        "agency_id": order.agency_id,
        "agency_name": order.agency_name,
        "agency_type": order.agency_type,
        "agency_city": order.agency_city,
        "supplier_id": order.supplier_id,
        "supplier_name": line.supplier_name,
        "seller_credit_code": line.supplier_credit_code,
        "invoice_number": order.invoice_number,
        "origin_province": NINGXIA,
        "origin_county_code": line.origin_county_code,
        "origin_county_name": line.origin_county_name,
        "category": line.category_name,
        "product_id": line.product_id,
        "product_name": line.product_name,
    }


def _is_counted(order: Order) -> bool:
    return order.status in (OrderStatus.ACCEPTED, OrderStatus.COMPLETED) and (
        order.payment_status != PaymentStatus.UNPAID
    )


@transaction.atomic
def order_paid_or_accepted(order: Order) -> list[ContributionEntry]:
    """Book an order once it is both accepted and paid; calling it again books nothing."""
    if (
        not _is_counted(order)
        or ContributionEntry.objects.filter(source_key=f"order:{order.pk}:line:0").exists()
    ):
        return []
    counted_on = timezone.localdate(max(order.accepted_at, order.paid_at))
    entries = []
    for n, line in enumerate(order.lines.order_by("id")):
        value = line.unit_price * (line.accepted_quantity or 0)
        if not value:
            continue
        entries.append(
            ContributionEntry(
                source=ContributionSource.ORDER,
                amount=value,
                business_date=counted_on,
                source_key=f"order:{order.pk}:line:{n}",
                **_order_dimensions(order, line),
            )
        )
    if entries and entries[0].source_key != f"order:{order.pk}:line:0":
        # Keep the "already booked" marker on the first booked line whatever was rejected.
        entries[0].source_key = f"order:{order.pk}:line:0"
    return append(entries)


def _spread(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `amount` over `weights` in proportion, to the fen, the last part taking the rest."""
    total = sum(weights)
    parts = [quantize_cny(amount * w / total) for w in weights[:-1]]
    return [*parts, amount - sum(parts, Decimal(0))]


@transaction.atomic
def order_refunded(order: Order, refund: Refund) -> list[ContributionEntry]:
    """Book a refund of a counted order as negative entries, dated when it was refunded."""
    booked = list(
        ContributionEntry.objects.filter(order=order, source=ContributionSource.ORDER).order_by(
            "position"
        )
    )
    if (
        not booked
        or ContributionEntry.objects.filter(source_key__startswith=f"refund:{refund.pk}:").exists()
    ):
        return []
    parts = _spread(refund.amount, [entry.amount for entry in booked])
    refunded_on = timezone.localdate(refund.created_at)
    entries = []
    for entry, part in zip(booked, parts, strict=True):
        if not part:
            continue
        line = entry.order_line
        dimensions = _order_dimensions(order, line)
        dimensions["kind"] = entry.kind  # a refund reverses what was booked, whatever changed since
        entries.append(
            ContributionEntry(
                source=ContributionSource.REFUND,
                amount=-part,
                business_date=refunded_on,
                source_key=f"refund:{refund.pk}:line:{line.pk}",
                refund=refund,
                reason=refund.reason,
                **dimensions,
            )
        )
    return append(entries)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries_checked: int
    first_broken_entry_id: int | None
    problem: str = ""


def verify(chunk_size: int = 5000) -> VerifyResult:
    """Walk the chain from the first entry: positions must follow each other, each entry must
    point at the previous hash, and its own hash must match its content. Reports the first
    entry where any of that fails."""
    previous_hash, expected_position, checked = GENESIS_HASH, 1, 0
    for entry in ContributionEntry.objects.order_by("position").iterator(chunk_size=chunk_size):
        problem = ""
        if entry.position != expected_position:
            problem = f"position {entry.position} where {expected_position} was expected"
        elif entry.prev_hash != previous_hash:
            problem = "its previous-hash link does not match the entry before it"
        elif entry_hash(entry) != entry.hash:
            problem = "its content does not match its hash"
        if problem:
            return VerifyResult(
                False, checked, entry.pk, f"entry {entry.pk} (#{entry.position}): {problem}"
            )
        previous_hash, expected_position, checked = entry.hash, expected_position + 1, checked + 1
    head = LedgerHead.objects.filter(pk=1).first()
    if head is not None and (head.last_position, head.last_hash) != (checked, previous_hash):
        return VerifyResult(False, checked, None, "the ledger head does not match the last entry")
    return VerifyResult(True, checked, None)


@dataclass(frozen=True)
class ReconcileDifference:
    order_id: int
    order_number: str
    expected: Decimal
    booked: Decimal


def reconcile() -> tuple[Decimal, Decimal, list[ReconcileDifference]]:
    """Compare what the ledger booked per order with the qualifying orders' net value
    (accepted and paid: accepted value less refunds). Returns (expected, booked, differences)."""
    from django.db.models import Sum

    booked = dict(
        ContributionEntry.objects.filter(order__isnull=False)
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values_list("order_id", "total")
    )
    qualifying = Order.objects.filter(
        status__in=(OrderStatus.ACCEPTED, OrderStatus.COMPLETED)
    ).exclude(payment_status=PaymentStatus.UNPAID)
    expected_total, differences = Decimal("0.00"), []
    seen = set()
    for order_id, number, accepted, refunded in qualifying.values_list(
        "pk", "number", "accepted_value", "refunded_amount"
    ).iterator(chunk_size=5000):
        expected = accepted - refunded
        expected_total += expected
        seen.add(order_id)
        if booked.get(order_id, Decimal("0.00")) != expected:
            differences.append(
                ReconcileDifference(
                    order_id, number, expected, booked.get(order_id, Decimal("0.00"))
                )
            )
    for order_id, total in booked.items():
        if order_id not in seen and total:
            number = (
                Order.objects.filter(pk=order_id).values_list("number", flat=True).first() or ""
            )
            differences.append(ReconcileDifference(order_id, number, Decimal("0.00"), total))
    return expected_total, sum(booked.values(), Decimal("0.00")), differences
