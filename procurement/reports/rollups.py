"""Monthly rollups of the ledger by every single dimension and every pair of dimensions.

Each booked entry adds its amount to 1 + 10 + 45 cells (everything, each dimension, each
pair), in the booking's transaction, while the ledger head lock serialises writers.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from itertools import combinations

from django.db import connection

from procurement.models import ContributionEntry, ContributionRollup

# Report dimension → (value attribute, label attribute) of an entry.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "KIND": ("kind", "kind"),
    "CITY": ("agency_city", "agency_city"),
    "AGENCY_TYPE": ("agency_type", "agency_type"),
    "AGENCY": ("agency_id", "agency_name"),
    "CHANNEL": ("channel", "channel"),
    "SUPPLIER": ("supplier_id", "supplier_name"),
    "COUNTY": ("origin_county_code", "origin_county_name"),
    "CATEGORY": ("category", "category"),
    "BUYER_PROVINCE": ("buyer_province", "buyer_province"),
    "ORIGIN_PROVINCE": ("origin_province", "origin_province"),
}
GROUPINGS: list[tuple[str, ...]] = [
    (),
    *[(d,) for d in sorted(DIMENSIONS)],
    *combinations(sorted(DIMENSIONS), 2),
]


def grouping_key(dimensions: Iterable[str]) -> str:
    return "|".join(sorted(dimensions))


def _value(entry: ContributionEntry, dimension: str) -> tuple[str, str]:
    value_attr, label_attr = DIMENSIONS[dimension]
    value = getattr(entry, value_attr)
    return ("" if value is None else str(value)), str(getattr(entry, label_attr) or "")


def cells(entries: Iterable[ContributionEntry]) -> dict[tuple, list]:
    """{(dimensions, month, value1, value2): [label1, label2, total, count]}"""
    out: dict[tuple, list] = defaultdict(lambda: ["", "", Decimal(0), 0])
    for entry in entries:
        month = entry.business_date.replace(day=1)
        for grouping in GROUPINGS:
            values = [_value(entry, d) for d in grouping] + [("", "")] * (2 - len(grouping))
            cell = out[(grouping_key(grouping), month, values[0][0], values[1][0])]
            cell[0], cell[1] = values[0][1], values[1][1]
            cell[2] += entry.amount
            cell[3] += 1
    return out


def add(entries: Iterable[ContributionEntry]) -> None:
    """Add entries to their cells with one upsert per cell (atomic increments)."""
    # The table name is our own model's, never input: the f-string builds no injection.
    table = ContributionRollup._meta.db_table
    sql = (
        f"INSERT INTO {table} "  # noqa: S608
        "(dimensions, month, value1, value2, label1, label2, total, entry_count) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (dimensions, month, value1, value2) DO UPDATE SET "
        f"total = {table}.total + excluded.total, "
        f"entry_count = {table}.entry_count + excluded.entry_count, "
        "label1 = excluded.label1, label2 = excluded.label2"
    )
    rows = [
        (key[0], key[1], key[2], key[3], label1, label2, total, count)
        for key, (label1, label2, total, count) in cells(entries).items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def rebuild() -> int:
    """Recompute every cell from the entries (after a restore, or to check the rollups)."""
    ContributionRollup.objects.all().delete()
    count = 0
    batch: list[ContributionEntry] = []
    for entry in ContributionEntry.objects.order_by("position").iterator(chunk_size=5000):
        batch.append(entry)
        if len(batch) == 5000:
            add(batch)
            count += len(batch)
            batch = []
    add(batch)
    return count + len(batch)
