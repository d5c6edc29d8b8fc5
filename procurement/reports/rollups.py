"""Rollups of the ledger by month and by year, for every single dimension and every pair of
dimensions.

Each booked entry adds its amount to 1 + 10 + 45 cells (everything, each dimension, each
pair) of its month and as many of its year, in the booking's transaction, by atomic upserts.
A summary over whole years reads the year cells: a twelfth of the rows of the month cells.
`rebuild` recomputes them all from the entries; on PostgreSQL in SQL, one pass over the entries
then over ever smaller tables of cells, which is what makes a restored or generated ledger of
ten million entries usable in minutes.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from itertools import combinations

from django.db import connection, transaction

from procurement.models import ContributionEntry, ContributionRollup, RollupPeriod
from procurement.reports import dimensions

# Report dimension → (value attribute, label attribute) of an entry (declared in dimensions.py).
DIMENSIONS: dict[str, tuple[str, str]] = {
    d.name: (d.value_attr, d.label_attr) for d in dimensions.DIMENSIONS
}
GROUPINGS: list[tuple[str, ...]] = [
    (),
    *[(d,) for d in sorted(DIMENSIONS)],
    *combinations(sorted(DIMENSIONS), 2),
]
PERIODS = (RollupPeriod.MONTH, RollupPeriod.YEAR)


def grouping_key(dimensions: Iterable[str]) -> str:
    return "|".join(sorted(dimensions))


def period_start(period: str, day: date) -> date:
    """The `month` a cell of `period` holding `day` is stored under."""
    return day.replace(month=1, day=1) if period == RollupPeriod.YEAR else day.replace(day=1)


def _value(entry: ContributionEntry, dimension: str) -> tuple[str, str]:
    value_attr, label_attr = DIMENSIONS[dimension]
    value = getattr(entry, value_attr)
    return ("" if value is None else str(value)), str(getattr(entry, label_attr) or "")


def cells(entries: Iterable[ContributionEntry]) -> dict[tuple, list]:
    """{(dimensions, period, month, value1, value2): [label1, label2, total, count]}"""
    out: dict[tuple, list] = defaultdict(lambda: ["", "", Decimal(0), 0])
    for entry in entries:
        starts = [(period, period_start(period, entry.business_date)) for period in PERIODS]
        for grouping in GROUPINGS:
            values = [_value(entry, d) for d in grouping] + [("", "")] * (2 - len(grouping))
            key = grouping_key(grouping)
            for period, start in starts:
                cell = out[(key, period, start, values[0][0], values[1][0])]
                cell[0], cell[1] = values[0][1], values[1][1]
                cell[2] += entry.amount
                cell[3] += 1
    return out


# The table name is our own model's, never input: the f-strings below build no injection.
TABLE = ContributionRollup._meta.db_table
COLUMNS = "dimensions, period, month, value1, value2, label1, label2, total, entry_count"


def add(entries: Iterable[ContributionEntry]) -> None:
    """Add entries to their cells with one upsert per cell (atomic increments)."""
    sql = (
        f"INSERT INTO {TABLE} ({COLUMNS}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (dimensions, period, month, value1, value2) DO UPDATE SET "
        f"total = {TABLE}.total + excluded.total, "
        f"entry_count = {TABLE}.entry_count + excluded.entry_count, "
        "label1 = excluded.label1, label2 = excluded.label2"
    )
    rows = [
        (*key, label1, label2, total, count)
        for key, (label1, label2, total, count) in cells(entries).items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def rebuild() -> int:
    """Recompute every cell, of every period, from the entries (after a restore or a bulk load,
    or to check the rollups). Returns the number of entries rolled up."""
    ContributionRollup.objects.all().delete()
    if connection.vendor == "postgresql":
        return _rebuild_in_sql()
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


def _column(attribute: str) -> str:
    return ContributionEntry._meta.get_field(attribute.removesuffix("_id")).column


# Dimensions shown by a name of their own (the others' label is their value).
NAMED = [d for d, (value, label) in DIMENSIONS.items() if value != label]


def _labelled(label: str) -> str:
    """A label that carries its entry's position in front (zero-padded), so that max() over
    cells picks the latest entry's label however many levels it is taken through. Compared
    byte-wise (COLLATE "C"): a linguistic collation's strcoll per comparison made the label
    aggregates the slowest part of the rebuild."""
    return f"(lpad(position::text, 20, '0') || coalesce({label}::text, '')) COLLATE \"C\""


def _rebuild_statements() -> list[str]:
    """SQL that fills the rollups from the entries in steps, each a plain hashed GROUP BY
    over a smaller table than the one before: the entries to their finest cells (month × every
    dimension), those to the month cells of each pair of dimensions, those to year cells, a
    pair's cells to each single dimension's, a single's to the everything grouping. One
    GROUP BY GROUPING SETS pass over all 112 groupings measured thousands of times slower
    (PostgreSQL 15 keeps one hash table per set and touches each per row).

    What kept it slow at scale (issue 15): every value and label was compared with the
    database's collation (strcoll, no abbreviated sort keys) and every dimension carried a
    position-prefixed label through every step. Now the work tables compare bytes (COLLATE
    "C"; only grouping and max() use them, the order of the stored cells is the index's), only
    AGENCY, SUPPLIER and COUNTY carry labels (the others' label is their value), and the work
    tables are analysed so the planner sizes its hash tables from real counts."""
    entries = ContributionEntry._meta.db_table
    dims = sorted(DIMENSIONS)
    base_columns = ", ".join(
        [
            "date_trunc('month', business_date)::date AS month",
            *[
                f"coalesce({_column(DIMENSIONS[d][0])}::text, '') COLLATE \"C\" AS v_{d}"
                for d in dims
            ],
            *[f"max({_labelled(_column(DIMENSIONS[d][1]))}) AS l_{d}" for d in dims if d in NAMED],
            "sum(amount) AS total",
            "count(*) AS n",
        ]
    )

    def label(d: str) -> str:
        return f"max(l_{d})" if d in NAMED else "NULL"

    statements = [
        "CREATE TEMPORARY TABLE rollup_base ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {base_columns} FROM {entries} "
        f"GROUP BY 1, {', '.join(str(n) for n in range(2, len(dims) + 2))}",
        "ANALYZE rollup_base",
        # label1/label2: position-prefixed names of NAMED dimensions, NULL for the others.
        'CREATE TEMPORARY TABLE rollup_cells (dimensions text COLLATE "C", period text, '
        'month date, value1 text COLLATE "C", value2 text COLLATE "C", label1 text COLLATE "C", '
        'label2 text COLLATE "C", total numeric, entry_count bigint) ON COMMIT DROP',
    ]
    cells = "INSERT INTO rollup_cells "
    for first, second in combinations(dims, 2):
        statements.append(
            cells + f"SELECT '{first}|{second}', 'MONTH', month, v_{first}, v_{second}, "  # noqa: S608
            f"{label(first)}, {label(second)}, sum(total), sum(n) FROM rollup_base "
            f"GROUP BY month, v_{first}, v_{second}"
        )
    statements.append("ANALYZE rollup_cells")
    # Each single dimension from the first pair it is part of; everything from one single.
    for d in dims:
        pair = grouping_key([d, dims[1] if d == dims[0] else dims[0]])
        side = 1 if pair.startswith(d + "|") else 2
        statements.append(
            cells + f"SELECT '{d}', 'MONTH', month, value{side}, '', max(label{side}), NULL, "  # noqa: S608
            f"sum(total), sum(entry_count) FROM rollup_cells "
            f"WHERE dimensions = '{pair}' AND period = 'MONTH' GROUP BY month, value{side}"
        )
    statements += [
        cells + "SELECT '', 'MONTH', month, '', '', NULL, NULL, sum(total), sum(entry_count) "  # noqa: S608
        f"FROM rollup_cells WHERE dimensions = '{dims[0]}' AND period = 'MONTH' GROUP BY month",
        cells + "SELECT dimensions, 'YEAR', date_trunc('year', month)::date, value1, value2, "  # noqa: S608
        "max(label1), max(label2), sum(total), sum(entry_count) FROM rollup_cells "
        "WHERE period = 'MONTH' GROUP BY 1, 2, 3, 4, 5",
        f"INSERT INTO {TABLE} ({COLUMNS}) SELECT dimensions, period, month, value1, value2, "  # noqa: S608
        "coalesce(substr(label1, 21), value1), coalesce(substr(label2, 21), value2), total, "
        "entry_count FROM rollup_cells "
        # In the unique index's order (byte order, as C.UTF-8 sorts), so its pages fill one
        # after another.
        "ORDER BY dimensions, period, month, value1, value2",
    ]
    return statements


def _rebuild_in_sql() -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _rebuild_statements():
            cursor.execute(statement)
        cursor.execute(
            f"SELECT coalesce(sum(entry_count), 0) FROM {TABLE} "  # noqa: S608
            "WHERE dimensions = '' AND period = %s",
            [RollupPeriod.YEAR],
        )
        return int(cursor.fetchone()[0])
