"""Rollups of the ledger by month and by year, for every single dimension and every pair of
dimensions.

Each entry adds its amount to 1 + 10 + 45 cells (everything, each dimension, each pair) of its
month and as many of its year. On PostgreSQL a booking only records its entries as pending
(`record`: one row each, appended, so concurrent bookings never wait on the month's shared
cells); `fold` (the worker's job every few seconds, and each checkpoint) moves what is pending
into the cells in one set-based statement. Reports read the cells and the still-pending entries
together in one statement (`exact_sums`), so their totals are exact at every instant whatever
the fold's lag. SQLite, whose writers are serialised anyway, adds to the cells in the booking.
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
from typing import Any

from django.core.exceptions import FieldError
from django.db import connection, connections, transaction
from django.db.models import Count, F, IntegerField, Max, Q, QuerySet, Sum, Value

from procurement.models import ContributionEntry, ContributionRollup, PendingRollup, RollupPeriod
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


PENDING = PendingRollup._meta.db_table
# One fold (or rebuild) at a time: two folds upserting the same cells could deadlock, and a
# rebuild must not meet a fold half done. Any constant; this one spells "rollup".
FOLD_LOCK = 0x726F6C6C7570


def record(entries: list[ContributionEntry]) -> None:
    """Account for newly stored entries in the rollups; the caller is inside the booking's
    transaction. PostgreSQL: one pending row per entry, for the next fold. SQLite: into the
    cells now."""
    if not entries:
        return
    if connection.vendor != "postgresql":
        add(entries)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PENDING} (entry_id) SELECT unnest(%s::bigint[])",  # noqa: S608
            [[entry.pk for entry in entries]],
        )


def fold() -> int:
    """Move every committed pending entry into its cells, in one transaction; returns how many.
    Each pending row is deleted by exactly one fold (DELETE ... RETURNING), and the cells it
    adds to become visible in the same commit, so a report never counts an entry twice or not
    at all. Entries booked while it runs wait for the next fold."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            return _fold_entry_by_entry()
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLD_LOCK])
        # A fold's groups fit in memory (hashed, not spilled to disk), and compiling its
        # expressions (JIT: the statement's estimated cost is high) cost more than it saved.
        cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        cursor.execute(_fold_statement())
        return int(cursor.fetchone()[0])


def _fold_entry_by_entry(batch: int = 5000) -> int:
    folded = 0
    while ids := list(PendingRollup.objects.values_list("entry_id", flat=True)[:batch]):
        add(ContributionEntry.objects.filter(pk__in=ids).order_by("position"))
        PendingRollup.objects.filter(entry_id__in=ids).delete()
        folded += len(ids)
    return folded


def pending(entries: QuerySet[ContributionEntry]) -> QuerySet[ContributionEntry]:
    """Those of `entries` not yet folded into the cells."""
    return entries.filter(pending_rollup__isnull=False)


def sums(
    rows: QuerySet,
    keys: dict[str, Any],
    labels: dict[str, Any],
    *,
    total: Any,
    count: Any,
    beyond: Q | None = None,
    limit: int | None = None,
) -> QuerySet:
    """`rows` summed by `keys` (name → expression), with the greatest of each label, as rows of
    the names, `sum_total` and `sum_count`: the same shape whatever the model, so that sums of
    cells and of entries unite in one statement. `beyond` filters on the keys' names; with
    `limit`, the first groups in the keys' order."""
    # No keys: one row over everything (a constant is left out of the GROUP BY).
    keys = keys or {"everything": Value(1)}
    rows = rows.annotate(**keys)
    if beyond is not None:
        rows = rows.filter(beyond)
    grouped = (
        rows.values(*keys)
        .annotate(sum_total=total, sum_count=count, **{n: Max(e) for n, e in labels.items()})
        .filter(sum_count__gt=0)
    )
    return grouped.order_by() if limit is None else grouped.order_by(*keys)[:limit]


def cell_sums(cells: QuerySet, keys: dict[str, Any], labels=None, **options) -> QuerySet:
    return sums(cells, keys, labels or {}, total=Sum("total"), count=Sum("entry_count"), **options)


def entry_sums(entries: QuerySet, keys: dict[str, Any], labels=None, **options) -> QuerySet:
    return sums(entries, keys, labels or {}, total=Sum("amount"), count=Count("pk"), **options)


def in_one_statement(*parts: QuerySet) -> list[dict[str, Any]]:
    """The rows of every part (see `sums`), read by one UNION ALL statement: one snapshot, so a
    fold committing meanwhile moves an entry from the pending part to the cells' either wholly
    before or wholly after it."""
    first, *rest = parts
    return list(first.union(*rest, all=True) if rest else first)


def merged(rows: list[dict[str, Any]], keys: Iterable[str]) -> list[dict[str, Any]]:
    """Rows with equal keys added up, in the keys' (Python) order."""
    keys = list(keys)
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in out:
            out[key]["sum_total"] += row["sum_total"]
            out[key]["sum_count"] += row["sum_count"]
        else:
            out[key] = dict(row)
    return [out[key] for key in sorted(out)]


def _parts(cells, entries, keys, labels, **options) -> tuple[QuerySet, QuerySet]:
    def side(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
        return {k: e[n] for k, e in keys.items()}, {k: e[n] for k, e in labels.items()}

    return (
        cell_sums(cells, *side(0), **options),
        entry_sums(pending(entries), *side(1), **options),
    )


def _union_sql(first: QuerySet, second: QuerySet, alias: str) -> tuple[str, tuple]:
    return first.union(second, all=True).query.get_compiler(alias).as_sql()


def _is_integer(expression: Any) -> bool:
    try:
        return isinstance(expression.output_field, IntegerField)
    except (AttributeError, FieldError):
        return False


def exact_sums(
    cells: QuerySet[ContributionRollup],
    entries: QuerySet[ContributionEntry],
    keys: dict[str, tuple[Any, Any]],
    labels: dict[str, tuple[Any, Any]] | None = None,
    *,
    beyond: Q | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """`cells` and the pending ones of `entries` (the same cut of the ledger, as cells and as
    entries) summed by `keys`, name → (expression over a cell, expression over an entry), in
    the keys' order, as the database orders them: rows of the names, `sum_total`, `sum_count`
    and `labels` (name → expressions likewise; the greatest). On PostgreSQL one statement
    (each side summed, then added up; with `limit`, each side's first groups, then the first of
    those): exact at every instant, however far behind the fold is. SQLite has nothing pending
    (`record` adds at once), so its cells are the answer."""
    labels = labels or {}
    names = list(keys)
    cell_part, entry_part = _parts(cells, entries, keys, labels, beyond=beyond, limit=limit)
    database = connections[cells.db]  # the replica, in a scope that reads it
    if database.vendor != "postgresql":
        return list(cell_part.order_by(*names) if names and limit is None else cell_part)
    sql, params = _union_sql(cell_part, entry_part, database.alias)
    quote = database.ops.quote_name
    columns = [f"{quote(n)}::bigint" if _is_integer(e[0]) else quote(n) for n, e in keys.items()]
    select = [
        *(f"{column} AS {quote(n)}" for column, n in zip(columns, names, strict=True)),
        'sum("sum_total")',
        'sum("sum_count")::bigint',
        *(f"max({quote(n)})" for n in labels),
    ]
    grouped = f" GROUP BY {', '.join(columns)} ORDER BY {', '.join(columns)}" if names else ""
    with database.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(select)} FROM ({sql}) AS parts{grouped}"  # noqa: S608
            + (f" LIMIT {int(limit)}" if limit is not None else ""),
            params,
        )
        fields = [*names, "sum_total", "sum_count", *labels]
        rows = [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]
    return [row for row in rows if row["sum_count"]]


def exact_group_count(
    cells: QuerySet[ContributionRollup],
    entries: QuerySet[ContributionEntry],
    keys: dict[str, tuple[Any, Any]],
) -> int:
    """How many groups `exact_sums` would answer without a limit, in one statement: the keys of
    the cells and of the pending entries with their entry counts, grouped once. Nothing is
    summed but the counts, and text keys are grouped byte-wise (COLLATE "C": a hash of bytes,
    not a sort by the database's collation): a count is as many as the cells of the grouping
    in the range (~90,000 for AGENCY × SUPPLIER by year), whatever the ledger's size."""
    if not keys:
        return len(exact_sums(cells, entries, {}))
    database = connections[cells.db]
    if database.vendor != "postgresql":
        return _parts(cells, entries, keys, {})[0].count()
    names = list(keys)
    cell_part = cells.annotate(**{n: e[0] for n, e in keys.items()}, n=F("entry_count"))
    entry_part = pending(entries).annotate(
        **{n: e[1] for n, e in keys.items()}, n=Value(1, output_field=IntegerField())
    )
    sql, params = _union_sql(
        cell_part.values(*names, "n").order_by(),
        entry_part.values(*names, "n").order_by(),
        database.alias,
    )
    quote = database.ops.quote_name
    columns = ", ".join(
        quote(n) if _is_integer(e[0]) else f'{quote(n)} COLLATE "C"' for n, e in keys.items()
    )
    with database.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM ({sql}) AS parts "  # noqa: S608
            f'GROUP BY {columns} HAVING sum("n") > 0) AS groups',
            params,
        )
        return int(cursor.fetchone()[0])


def rebuild() -> int:
    """Recompute every cell, of every period, from the entries (after a restore or a bulk load,
    or to check the rollups); nothing is left pending. Returns the number of entries rolled
    up."""
    if connection.vendor == "postgresql":
        return _rebuild_in_sql()
    PendingRollup.objects.all().delete()
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


def _finest_cells(source: str, labelled: Iterable[str] = tuple(DIMENSIONS)) -> str:
    """The select list, FROM and GROUP BY that sum the entries of `source` to their finest
    cells: month × the value of every dimension (compared byte-wise), the latest label
    (position first, see `_labelled`) of each `labelled` dimension, the total and the count."""
    dims = sorted(DIMENSIONS)
    columns = ", ".join(
        [
            "date_trunc('month', business_date)::date AS month",
            *[
                f"coalesce({_column(DIMENSIONS[d][0])}::text, '') COLLATE \"C\" AS v_{d}"
                for d in dims
            ],
            *[
                f"max({_labelled(_column(DIMENSIONS[d][1]))}) AS l_{d}"
                for d in dims
                if d in labelled
            ],
            "sum(amount) AS total",
            "count(*) AS n",
        ]
    )
    return f"{columns} FROM {source} GROUP BY 1, {', '.join(map(str, range(2, len(dims) + 2)))}"


def _fold_statement() -> str:
    """One statement: delete every visible pending row, sum their entries (fetched by primary
    key) to the finest cells, spread those over the 56 groupings to month cells, sum the
    month cells to year cells, and upsert both into the cells. Answers the number of entries
    folded.

    Only AGENCY, SUPPLIER and COUNTY carry a position-prefixed label (the latest wins); the
    others' label is their value. Year cells come from the month cells (a fold's entries
    share a few months), not from every entry again. The cells are upserted in no particular
    order: one fold runs at a time (FOLD_LOCK) and bookings never lock cells, so no two
    transactions upsert cells concurrently; hashing the groups instead of sorting them (the
    ORDER BY did, spilling to disk) was most of a fold's time."""
    entries = ContributionEntry._meta.db_table
    groupings = []
    for grouping in GROUPINGS:
        values = [f"b.v_{d}" for d in grouping] + ["''"] * (2 - len(grouping))
        labels = [f"b.l_{d}" if d in NAMED else "NULL" for d in grouping]
        labels += ["NULL"] * (2 - len(grouping))
        groupings.append(f"('{grouping_key(grouping)}', {', '.join(values + labels)})")
    source = f"{entries} WHERE id = ANY(ARRAY(SELECT entry_id FROM folded))"  # noqa: S608
    return (
        f"WITH folded AS (DELETE FROM {PENDING} RETURNING entry_id), "  # noqa: S608
        f"base AS (SELECT {_finest_cells(source, labelled=NAMED)}), "
        "months AS (SELECT g.dimensions, b.month, g.value1, g.value2, max(g.label1) AS label1, "
        "max(g.label2) AS label2, sum(b.total) AS total, sum(b.n) AS n FROM base b "
        f"CROSS JOIN LATERAL (VALUES {', '.join(groupings)}) "
        "AS g(dimensions, value1, value2, label1, label2) GROUP BY 1, 2, 3, 4), "
        f"cells AS (SELECT dimensions, '{RollupPeriod.MONTH}' AS period, month, value1, value2, "
        "label1, label2, total, n FROM months UNION ALL "
        f"SELECT dimensions, '{RollupPeriod.YEAR}', date_trunc('year', month)::date, value1, "
        "value2, max(label1), max(label2), sum(total), sum(n) FROM months "
        "GROUP BY 1, 3, 4, 5), "
        f"added AS (INSERT INTO {TABLE} ({COLUMNS}) "
        "SELECT dimensions, period, month, value1, value2, "
        "coalesce(substr(label1, 21), value1), coalesce(substr(label2, 21), value2), total, n "
        "FROM cells "
        "ON CONFLICT (dimensions, period, month, value1, value2) DO UPDATE SET "
        f"total = {TABLE}.total + excluded.total, "
        f"entry_count = {TABLE}.entry_count + excluded.entry_count, "
        "label1 = excluded.label1, label2 = excluded.label2 RETURNING 1) "
        "SELECT (SELECT count(*) FROM folded), (SELECT count(*) FROM added)"
    )


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

    def label(d: str) -> str:
        return f"max(l_{d})" if d in NAMED else "NULL"

    statements = [
        "CREATE TEMPORARY TABLE rollup_base ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {_finest_cells(entries, labelled=NAMED)}",
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
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FOLD_LOCK])
        # Waits for the bookings that recorded pending rows to commit, and holds new ones at
        # their pending insert (their entries invisible here) until this commits: every entry
        # is then either in the rebuilt cells or pending, never both.
        cursor.execute(f"LOCK TABLE {PENDING} IN EXCLUSIVE MODE")  # noqa: S608
        cursor.execute(f"DELETE FROM {PENDING}")  # noqa: S608
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608
        for statement in _rebuild_statements():
            cursor.execute(statement)
        cursor.execute(
            f"SELECT coalesce(sum(entry_count), 0) FROM {TABLE} "  # noqa: S608
            "WHERE dimensions = '' AND period = %s",
            [RollupPeriod.YEAR],
        )
        return int(cursor.fetchone()[0])
