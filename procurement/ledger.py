"""Booking the contribution ledger (docs/design.md §3, 统计口径).

A contribution is booked when an order is both accepted and paid: one entry per order line for
the paid value of its accepted goods, dated at the later of the two events in Asia/Shanghai. A
refund books negative entries, spread over the lines in proportion to their accepted value.
A booking takes positions and computes each entry's Merkle leaf hash, nothing more: it reads no
earlier entry, so bookings never wait on one another. Checkpointing sequences the entries into
the tree (procurement/transparency).
"""

import functools
import hashlib
import json
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import CharField, DecimalField, F, TextField
from django.utils import timezone

from catalog.models import FUJIAN, NINGXIA
from procurement.models import (
    RESELLER_TYPES,
    ContributionEntry,
    ContributionKind,
    ContributionSource,
    LedgerCheckpoint,
    LedgerHead,
    Order,
    PaymentStatus,
    Refund,
)
from procurement.models.orders import COUNTED
from procurement.transparency import merkle, signing, store
from shop.core import validation
from shop.core.money import quantize_cny

GENESIS_HASH = "0" * 64
# The old chain's hash (entries booked before the transparency log): what it covered, in order.
HASHED_FIELDS = (*merkle.LEAF_FIELDS_V1, "prev_hash")


def _canonical(value: Any) -> Any:
    convert = _CANONICAL.get(type(value))  # the usual exact types, without isinstance tests
    if convert is not None:
        return convert(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


_CANONICAL = {
    str: str,
    int: int,
    type(None): lambda value: value,
    Decimal: lambda value: f"{value:.2f}",
    datetime: lambda value: value.astimezone(UTC).isoformat(timespec="microseconds"),
    date: date.isoformat,
}


def entry_hash(entry: ContributionEntry) -> str:
    """The old chain hash of an entry booked before the transparency log."""
    content = [_canonical(getattr(entry, name)) for name in HASHED_FIELDS]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def leaf_values(entry: ContributionEntry) -> dict[str, Any]:
    """The entry's fields as its leaf encodes them, in the encoding it was booked with (and as
    the export carries them)."""
    fields = merkle.leaf_fields(entry.leaf_version)
    loaded = entry.__dict__  # a loaded field's value, as its attribute would answer it
    return {
        name: _canonical(loaded[name] if name in loaded else getattr(entry, name))
        for name in fields
    }


def encoded_leaf(entry: ContributionEntry) -> bytes:
    return merkle.encode_leaf(leaf_values(entry), entry.leaf_version)


def leaf_hash(entry: ContributionEntry) -> bytes:
    return merkle.leaf_hash(encoded_leaf(entry))


def kind_for(agency_type: str) -> str:
    return (
        ContributionKind.HELPED_SALES
        if agency_type in RESELLER_TYPES
        else ContributionKind.PURCHASE
    )


def append(entries: Iterable[ContributionEntry]) -> list[ContributionEntry]:
    """Store new entries with their positions and leaf hashes; the caller is inside a
    transaction."""
    from procurement.reports import rollups

    entries = validation.checked_rows(entries)
    if not entries:
        return []
    now = timezone.now()
    for entry in entries:
        entry.prev_hash = ""
        entry.leaf_version = merkle.LEAF_VERSION
        entry.booked_at = entry.booked_at or now
        entry.amount = quantize_cny(entry.amount)
    if connection.vendor == "postgresql":
        _book(entries)
        return entries
    for entry, position in zip(entries, store.next_positions(len(entries)), strict=True):
        entry.position = position
        entry.hash = leaf_hash(entry).hex()
    ContributionEntry.objects.bulk_create(entries)
    rollups.record(entries)
    return entries


# An entry's columns that its leaf does not carry, as the booking statement fills them.
_NOT_IN_LEAF = {"prev_hash": "''", "hash": "hash", "leaf_version": "(leaf->>0)::smallint"}


def _from_leaf(field, index: int) -> str:
    """The SQL reading `field`'s value from element `index` of a leaf (a JSON array)."""
    text = f"leaf->>{index}"
    if isinstance(field, CharField | TextField):
        return text  # assigned to the column as text: a value too long fails, never truncated
    if isinstance(field, DecimalField):
        return f"({text})::numeric"  # exactly the leaf's "12.30"
    return f"({text})::{field.cast_db_type(connection)}"


@functools.cache
def _booking_statement(parameter: str) -> str:
    """One statement (PostgreSQL) that books entries and their pending rollup rows; answers
    (source_key, id, position, hash) of each. `parameter` (text) holds one line per entry:
    its leaf's text before and after the position (`merkle.encode_leaf_around`), separated by
    a tab (a compact JSON text holds neither a tab nor a newline outside its strings, which
    escape them). The statement takes each entry's position from the sequence, completes its
    leaf, hashes it as `merkle.leaf_hash` does (SHA-256 of 0x00 and the leaf's UTF-8 bytes)
    and reads every column from the leaf: the row stored is what was hashed, in one round
    trip, and its text is the same whatever the number of entries (it is prepared once per
    connection). Before, a booking took its positions in a round trip of their own, then
    sent a multi-row VALUES of 30 parameters per entry, parsed and planned every time."""
    from procurement.reports import rollups

    fields = merkle.leaf_fields(merkle.LEAF_VERSION)
    by_name = {f.name: f for f in ContributionEntry._meta.concrete_fields if not f.primary_key}
    by_attname = {f.attname: f for f in by_name.values()}
    columns, values = [], []
    for index, name in enumerate(fields, start=1):
        field = by_attname[name]
        columns.append(field.column)
        values.append(_from_leaf(field, index))
    for name, expression in _NOT_IN_LEAF.items():
        columns.append(by_name[name].column)
        values.append(expression)
    missing = set(by_attname) - set(fields) - set(_NOT_IN_LEAF)
    if missing:
        raise ImproperlyConfigured(f"the booking statement stores no value for {sorted(missing)}")
    quote = connection.ops.quote_name
    return (
        # MATERIALIZED: each entry's position is taken once.
        "WITH texts AS MATERIALIZED (SELECT split_part(line, E'\\t', 1) "  # noqa: S608 (our names)
        f"|| nextval('{store.POSITIONS}') || split_part(line, E'\\t', 2) AS text "
        f"FROM unnest(string_to_array({parameter}, E'\\n')) AS line), "
        # MATERIALIZED: each leaf is parsed once, not once per column read from it.
        "leaves AS MATERIALIZED (SELECT text::jsonb AS leaf, "
        "encode(sha256('\\x00'::bytea || convert_to(text, 'UTF8')), 'hex') AS hash FROM texts), "
        f"stored AS (INSERT INTO {ContributionEntry._meta.db_table} "
        f"({', '.join(map(quote, columns))}) SELECT {', '.join(values)} FROM leaves "
        "RETURNING source_key, id, position, hash), "
        f"pending AS (INSERT INTO {rollups.PENDING} (entry_id) SELECT id FROM stored) "
        "SELECT source_key, id, position, hash FROM stored"
    )


# The booking statement, prepared once on each connection (a server-side plan: parsing,
# analysing and planning the statement were a third of PostgreSQL's CPU per small booking).
# PREPARE outlives the transaction it is made in, even one rolled back.
BOOKING_STATEMENT = "ledger_booking"
_prepared_on: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _book(entries: list[ContributionEntry]) -> None:
    """Store the entries and their pending rollup rows in one prepared statement
    (`_booking_statement`), and give them their ids, positions and hashes."""
    lines = []
    for entry in entries:
        head, tail = merkle.encode_leaf_around(leaf_values(entry), entry.leaf_version, "position")
        lines.append(f"{head}\t{tail}")
    with connection.cursor() as cursor:
        if connection.connection not in _prepared_on:
            cursor.execute(f"PREPARE {BOOKING_STATEMENT} (text) AS {_booking_statement('$1')}")
            _prepared_on.add(connection.connection)
        cursor.execute(f"EXECUTE {BOOKING_STATEMENT} (%s)", ["\n".join(lines)])
        stored = {key: rest for key, *rest in cursor.fetchall()}
    for entry in entries:
        entry.pk, entry.position, entry.hash = stored[entry.source_key]
        entry._state.adding, entry._state.db = False, connection.alias


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
    return order.status in COUNTED and (order.payment_status != PaymentStatus.UNPAID)


@transaction.atomic
def book_paid_order(order: Order) -> list[ContributionEntry]:
    """Book a paid order's accepted lines into the ledger, dated on the later of its acceptance
    and payment (called when the payment settles); calling it again books nothing."""
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


def _configured_public_key() -> str | None:
    try:
        return signing.public_key_text()
    except ImproperlyConfigured:
        return None


def verify(chunk_size: int = 5000) -> VerifyResult:
    """Check the stored tree against the latest signed checkpoint and the rollups against the
    entries: every entry in the tree, in tree order, must hash to its stored leaf; those leaves
    must give the checkpoint's root, and so must the stored subtree hashes proofs are read from;
    the checkpoint's signature must hold. Entries not yet sequenced must match their hash.
    Reports the first entry where any of that fails."""

    head = LedgerHead.objects.filter(pk=1).first()
    size = head.tree_size if head else 0
    latest = LedgerCheckpoint.objects.order_by("-tree_size", "-id").first()
    tree, checkpoint_root = merkle.CompactRange(), None

    def broken(entry, problem: str) -> VerifyResult:
        return VerifyResult(
            False, tree.size, entry.pk, f"entry {entry.pk} (#{entry.position}): {problem}"
        )

    in_tree = (
        ContributionEntry.objects.filter(leaf__isnull=False)
        .annotate(leaf_index=F("leaf__index"), stored_leaf=F("leaf__hash"))
        .order_by("leaf__index")
    )
    for entry in in_tree.iterator(chunk_size=chunk_size):
        leaf = leaf_hash(entry)
        if entry.leaf_index != tree.size:
            return broken(entry, f"it is leaf {entry.leaf_index} where {tree.size} was expected")
        if leaf != bytes(entry.stored_leaf) or (entry.hash != leaf.hex() and not entry.prev_hash):
            return broken(entry, "its content does not match its hash")
        tree.append(leaf)
        if latest and tree.size == latest.tree_size:
            checkpoint_root = tree.root()
    if tree.size != size:
        return VerifyResult(False, tree.size, None, f"the tree holds {tree.size} of {size} leaves")
    if latest:
        signed = store.as_signed(latest)
        problem = ""
        if checkpoint_root != signed.root_hash and latest.tree_size:
            problem = "the entries no longer give its root"
        elif store.root_at(latest.tree_size) != signed.root_hash:
            problem = "the stored subtree hashes do not give its root"
        elif (public_key := _configured_public_key()) is None:
            problem = "no signing key is configured to check its signature"
        elif not merkle.signature_holds(signed, merkle.load_public_key(public_key)):
            problem = "its signature does not hold"
        if problem:
            return VerifyResult(
                False, tree.size, None, f"checkpoint of size {latest.tree_size}: {problem}"
            )
    checked = tree.size
    # Sequencing looks back SEQUENCE_SLACK positions for late commits; below that it never will.
    left_out_below = (head.sequenced_position if head else 0) - store.SEQUENCE_SLACK
    for entry in (
        ContributionEntry.objects.filter(leaf__isnull=True)
        .order_by("position")
        .iterator(chunk_size=chunk_size)
    ):
        expected = entry_hash(entry) if entry.prev_hash else leaf_hash(entry).hex()
        problem = ""
        if entry.hash != expected:
            problem = "its content does not match its hash"
        elif entry.position <= left_out_below:
            problem = "it was left out of the tree (committed too late to be sequenced)"
        if problem:
            return VerifyResult(
                False, checked, entry.pk, f"entry {entry.pk} (#{entry.position}): {problem}"
            )
        checked += 1
    problem = _rollups_problem()
    if problem:
        return VerifyResult(False, checked, None, problem)
    return VerifyResult(True, checked, None)


def _rollups_problem() -> str:
    """The first month or year whose rollup (the everything grouping, with the entries not yet
    folded into it) differs from its entries. One statement reads all three, so bookings and
    folds committing meanwhile cannot make them disagree."""
    from django.db.models import F, Value
    from django.db.models.functions import TruncMonth, TruncYear

    from procurement.models import ContributionRollup, RollupPeriod
    from procurement.reports import rollups

    parts = []
    for period, trunc in ((RollupPeriod.MONTH, TruncMonth), (RollupPeriod.YEAR, TruncYear)):
        keys = {"k_side": Value("cells"), "k_period": Value(period)}
        start = trunc("business_date")
        cells = ContributionRollup.objects.filter(dimensions="", period=period)
        parts += [
            rollups.cell_sums(cells, {**keys, "k_start": F("month")}),
            rollups.entry_sums(
                rollups.pending(ContributionEntry.objects.all()), {**keys, "k_start": start}
            ),
            rollups.entry_sums(
                ContributionEntry.objects.all(),
                {"k_side": Value("entries"), "k_period": Value(period), "k_start": start},
            ),
        ]
    names = ["k_side", "k_period", "k_start"]
    found = {
        tuple(row[k] for k in names): (row["sum_total"], row["sum_count"])
        for row in rollups.merged(rollups.in_one_statement(*parts), names)
    }
    for period, shown in ((RollupPeriod.MONTH, "%Y-%m"), (RollupPeriod.YEAR, "%Y")):
        starts = sorted({start for (_side, p, start) in found if p == period})
        for start in starts:
            if found.get(("entries", period, start)) != found.get(("cells", period, start)):
                return f"the rollup of {start:{shown}} does not match its entries"
    return ""


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
    qualifying = Order.objects.filter(status__in=COUNTED).exclude(
        payment_status=PaymentStatus.UNPAID
    )
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
