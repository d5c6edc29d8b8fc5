"""A ledger of millions of entries in minutes, for the reports benchmarks (issue 15).

    .venv/bin/python -m bench.generate_ledger --database-url postgres://… [--entries 10000000]

Booking through the services runs at ~1,400 entries/s (two hours for ten million): every entry
is an INSERT, a pending row and its share of a fold's 112 rollup upserts. This writes the same
rows the services would have written, in bulk, on an empty ledger of a migrated PostgreSQL:

1. Entries and their tree: synthetic other-channel entries (source IMPORT, ~3 % ADJUSTMENT
   corrections) over the bench catalog's products and 300 agencies (bench/ledger_reports.py
   makes them), dated 2021-01-01 … 2026-06-30 growing ~35 % a year, positions in date order.
   Each entry's hash is its Merkle leaf hash from `merkle.encode_leaf`, the function booking
   uses. Rows are built as COPY text by `--workers` processes, each COPYing its own chunks on
   its own connection. A chunk is 2^17 entries, so it is a perfect subtree of the Merkle tree:
   its worker also writes the chunk's leaves and inner nodes (what checkpointing would store),
   and hands back the chunk's root; the nodes above the chunks are hashed from those roots.
   Every index and foreign key of the entry, tree and rollup tables is dropped for the load and
   rebuilt after it (one sort per index instead of ten million insertions into each).
2. Rollups: summed by the same workers while they build the rows, never by scanning the
   ledger again. An entry's dimensions come from three parts (its agency, its product, its
   channel), so each worker keeps, per month, a few small sums: by agency and each product
   dimension's value, by agency and channel, by product and channel. The chunks' sums are
   added up (a month spanning two chunks is in both), every grouping's month cells derived
   from the smallest of them that holds its two dimensions, the year cells from the month
   cells, the labels joined by value, and the lot COPYed into the (index-less) rollup table.
   Before (issue 15): `rollups.rebuild()`'s ~45 GROUP BYs over a table of finest cells as
   large as the ledger, 475 s of 979 at 1,000,000 entries.
3. The tree's head (size, sequenced position) and a checkpoint signed with `store.sign`, the
   ledger's own signing (needs LEDGER_SIGNING_KEY like any checkpoint).
4. The position and id sequences set past the last entry, so booking continues from there.

`ledger.verify()` and `ledger.reconcile()` pass on the result (tests/bench/test_generate_ledger.py
checks it at a small size). Progress is shown with a bar; timings are printed per step.
"""

import argparse
import bisect
import itertools
import multiprocessing
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench import common

NODE_COLUMNS = "level, index, hash, entry_id"
CHUNK = 1 << 17  # a perfect subtree of the Merkle tree
SEED = 2026


@dataclass(frozen=True)
class Plan:
    """What every worker needs to build its chunks, without touching Django."""

    url: str
    table: str
    node_table: str
    columns: list[str]
    seed: int
    days: list[date]
    day_ends: list[int]  # cumulative entry counts: positions up to day_ends[i] fall on days[i]
    agencies: list[tuple]  # (id, name, type, city, kind)
    products: list[tuple]  # (id, name, supplier id, name, credit code, county code, name, cat.)
    import_batch_id: int
    user_id: int
    # The entry columns of each rollup dimension's value and label, dimensions sorted by name.
    dimension_columns: list[tuple[str, str]]
    groupings: list[tuple[int, int, int]]  # (grouping, value index 1, 2); index 0 is ""


def day_counts(total: int) -> tuple[list[date], list[int]]:
    """Entries per day in proportion to bench.ledger_reports.day_weights, summing to `total`."""
    from bench.ledger_reports import day_weights

    days, weights = day_weights()
    scale, ends, running = total / sum(weights), [], 0.0
    for weight in weights:
        running += weight * scale
        ends.append(round(running))
    ends[-1] = total
    return days, ends


def _text(value) -> str:
    r"""A value in COPY text format. Our synthetic text holds no tab, newline or backslash."""
    return "\\N" if value is None else str(value)


Cells = dict[tuple, list]  # key → [total, entry count]
SOURCES = ("agency", "product", "channel")


def _agency_part(agency: tuple) -> dict:
    agency_id, agency_name, agency_type, city, kind = agency
    return {
        "agency_id": agency_id,
        "agency_name": agency_name,
        "agency_type": agency_type,
        "agency_city": city,
        "kind": kind,
    }


def _product_part(product: tuple) -> dict:
    product_id, product_name, supplier_id, supplier_name, credit, county, county_name, cat = product
    return {
        "supplier_id": supplier_id,
        "supplier_name": supplier_name,
        "seller_credit_code": credit,
        "origin_county_code": county,
        "origin_county_name": county_name,
        "category": cat,
        "product_id": product_id,
        "product_name": product_name,
    }


CHANNELS = ["SHANHAI"] * 6 + ["832平台"] * 3 + ["线下"]
# An entry's channel and the constant provinces, as a third part (the rollups group by them).
CHANNEL_PARTS = [
    {"channel": channel, "buyer_province": "福建省", "origin_province": "宁夏回族自治区"}
    for channel in dict.fromkeys(CHANNELS)
]
CHANNEL_INDEX = [list(dict.fromkeys(CHANNELS)).index(channel) for channel in CHANNELS]


@dataclass(frozen=True)
class Parts:
    """An entry's dimension values come from three parts: its agency's, its product's and its
    channel's. Each rollup dimension (1-based, sorted by name; 0 is "no dimension") belongs to
    one part: `values[d][i]` is its value (as rollups._value has it) in the part's i-th
    variant, `labels[d]` value → label."""

    parts: dict[str, list[dict]]
    source: list[str | None]
    values: list[list[str]]
    labels: list[dict[str, str]]

    @classmethod
    def of(cls, plan: "Plan") -> "Parts":
        parts = {
            "agency": [_agency_part(a) for a in plan.agencies],
            "product": [_product_part(p) for p in plan.products],
            "channel": CHANNEL_PARTS,
        }
        source, values, labels = [None], [[]], [{}]
        for value_column, label_column in plan.dimension_columns:
            owner = [name for name in SOURCES if value_column in parts[name][0]]
            if len(owner) != 1 or label_column not in parts[owner[0]][0]:
                raise ValueError(f"no part of an entry holds the dimension {value_column}")
            variants = parts[owner[0]]
            texts = ["" if v[value_column] is None else str(v[value_column]) for v in variants]
            named: dict[str, str] = {}
            for text, variant in zip(texts, variants, strict=True):
                label = str(variant[label_column] or "")
                # One label per value here, so a cell's latest label is its values' label.
                if named.setdefault(text, label) != label:
                    raise ValueError(f"{value_column} {text} has two labels")
            source.append(owner[0])
            values.append(texts)
            labels.append(named)
        return cls(parts, source, values, labels)

    def of_source(self, name: str) -> list[int]:
        return [d for d, owner in enumerate(self.source) if owner == name]


def chunk_rows(plan: Plan, start: int, stop: int) -> tuple[str, str, Decimal, list[bytes], tuple]:
    """COPY text of the entries at positions start+1 … stop, of their tree nodes, their sum,
    the hashes of the chunk's compact range (its root when it is whole), and the chunk's
    sums by month for the rollups: (agency, product-dimension value), (agency, channel) and
    (product, channel) cells, from which `_month_cells` derives every grouping's cells."""
    from procurement.transparency import merkle

    rng = random.Random(plan.seed * 1_000_003 + start)
    shanghai = ZoneInfo("Asia/Shanghai")
    lines, nodes, total = [], [], Decimal(0)
    parts = Parts.of(plan)
    agency_parts, product_parts = parts.parts["agency"], parts.parts["product"]
    product_values = [
        tuple(enumerate(values))
        for values in zip(*(parts.values[d] for d in parts.of_source("product")), strict=True)
    ]
    by_value: Cells = {}  # (product dimension, month, agency, value)
    by_agency: Cells = {}  # (month, agency, channel)
    by_product: Cells = {}  # (month, product, channel)
    tree = merkle.CompactRange()  # the chunk's own subtree: its indexes count from `start`
    day_index = bisect.bisect_left(plan.day_ends, start + 1)
    for position in range(start + 1, stop + 1):
        while plan.day_ends[day_index] < position:
            day_index += 1
        day = plan.days[day_index]
        agency = rng.randrange(len(plan.agencies))
        product = rng.randrange(len(plan.products))
        channel = CHANNEL_INDEX[position % len(CHANNELS)]
        negative = rng.random() < 0.03
        amount = Decimal(f"{rng.lognormvariate(7.8, 1.1):.2f}")
        if negative:
            amount = -amount
        total += amount
        booked_at = datetime(day.year, day.month, day.day, 12, tzinfo=shanghai).astimezone(UTC)
        values = {
            "position": position,
            "source": "ADJUSTMENT" if negative else "IMPORT",
            "amount": f"{amount:.2f}",
            "booked_at": booked_at.isoformat(timespec="microseconds"),
            "business_date": day.isoformat(),
            "source_key": f"bench:{plan.seed}:{position}",
            "order_id": None,
            "order_line_id": None,
            "refund_id": None,
            "import_batch_id": None if negative else plan.import_batch_id,
            "invoice_number": f"FP{position:010d}",
            "reason": "退货冲减（压测）" if negative else "",
            **agency_parts[agency],
            **product_parts[product],
            **CHANNEL_PARTS[channel],
            "created_by_id": plan.user_id,
        }
        values["id"] = position
        values["prev_hash"] = ""
        values["leaf_version"] = merkle.LEAF_VERSION
        leaf = merkle.leaf_hash(merkle.encode_leaf(values, merkle.LEAF_VERSION))
        values["hash"] = leaf.hex()
        lines.append("\t".join([_text(values[column]) for column in plan.columns]))
        # The rollups' sums at the finest level they need, in five small dictionaries rather
        # than 56 cells per entry: agency × product is only kept per product dimension value.
        month = day.replace(day=1)
        for cells, key in (
            *((by_value, (k, month, agency, value)) for k, value in product_values[product]),
            (by_agency, (month, agency, channel)),
            (by_product, (month, product, channel)),
        ):
            cell = cells.get(key)
            if cell is None:
                cells[key] = [amount, 1]
            else:
                cell[0] += amount
                cell[1] += 1
        # Leaf index = position - 1: sequencing puts entries in the tree in position order.
        nodes.append(f"0\t{position - 1}\t\\\\x{values['hash']}\t{position}")
        for level, index, digest in tree.append(leaf):
            nodes.append(f"{level}\t{(start >> level) + index}\t\\\\x{digest.hex()}\t\\N")
    lines.append("")
    nodes.append("")
    return "\n".join(lines), "\n".join(nodes), total, tree.hashes, (by_value, by_agency, by_product)


def _load_chunk(args: tuple[Plan, int, int]) -> tuple[int, int, Decimal, list[bytes], tuple]:
    import psycopg

    plan, start, stop = args
    entries, nodes, total, hashes, sums = chunk_rows(plan, start, stop)
    with psycopg.connect(plan.url, autocommit=True) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY {plan.table} ({', '.join(plan.columns)}) FROM STDIN") as copy:
            copy.write(entries.encode())
        with cursor.copy(
            f"COPY {plan.node_table} (level, index, hash, entry_id) FROM STDIN"
        ) as copy:
            copy.write(nodes.encode())
    return start, stop - start, total, hashes, sums


def _upper_nodes(chunks: list[tuple[int, int, list[bytes]]], total: int, size: int):
    """The tree above the chunks, from each chunk's compact range in order: (the stored nodes
    whole chunks complete, as (level, index, hash), and the tree's compact range)."""
    from procurement.transparency import merkle

    levels = size.bit_length() - 1
    top, nodes, tail = merkle.CompactRange(), [], []
    for _start, count, hashes in sorted(chunks):
        if count == size:
            # A whole chunk is one leaf of the tree of chunks, at level `levels` of the real one.
            nodes += [(levels + lv, index, h) for lv, index, h in top.append(hashes[0])]
        else:  # only the last chunk is partial: its perfect subtrees end the compact range
            tail = hashes
    return nodes, merkle.CompactRange(total, [*top.hashes, *tail])


def _add(into: Cells, cells: Cells) -> None:
    for key, (total, count) in cells.items():
        _accumulate(into, key, total, count)


def _accumulate(into: Cells, key: tuple, total, count: int) -> None:
    cell = into.get(key)
    if cell is None:
        into[key] = [total, count]
    else:
        cell[0] += total
        cell[1] += count


def _month_cells(plan: Plan, parts: Parts, sums: tuple[Cells, Cells, Cells]) -> Cells:
    """Every grouping's month cells, (grouping, month, value1, value2) → [total, count], from
    the chunks' sums: a grouping of agency and channel dimensions from the (agency, channel)
    sums, of product and channel dimensions from the (product, channel) ones, of an agency and
    a product dimension from the (agency, that dimension's value) ones. Each is a pass over a
    table of at most months × agencies × suppliers cells, never over the entries."""
    by_value, by_agency, by_product = sums
    products = parts.of_source("product")
    per_dimension: dict[int, Cells] = {d: {} for d in products}
    for (k, month, agency, value), cell in by_value.items():
        per_dimension[products[k]][month, agency, value] = cell
    out: Cells = {}
    for grouping, *dims in plan.groupings:
        owners = {parts.source[d] for d in dims if d}
        if owners <= {"agency", "channel"}:
            base, sides = by_agency, ("agency", "channel")
        elif owners <= {"product", "channel"}:
            base, sides = by_product, ("product", "channel")
        else:  # an agency dimension and a product one: that one's values are in the keys
            product = next(d for d in dims if parts.source[d] == "product")
            base, sides = per_dimension[product], ("agency", product)
        # For each of the two values: which part of the key (1 or 2) and its value table.
        pickers = []
        for d in dims:
            if not d:
                pickers.append((0, [""]))
            elif d == sides[1]:
                pickers.append((2, None))  # the key holds the value itself
            else:
                pickers.append((sides.index(parts.source[d]) + 1, parts.values[d]))
        (i, first), (j, second) = pickers
        cells: Cells = {}
        for key, (total, count) in base.items():
            one = key[i] if first is None else first[key[i] if i else 0]
            two = key[j] if second is None else second[key[j] if j else 0]
            cell = cells.get((grouping, key[0], one, two))
            if cell is None:
                cells[grouping, key[0], one, two] = [total, count]
            else:
                cell[0] += total
                cell[1] += count
        out.update(cells)
    return out


def _rollup_copy(plan: Plan, parts: Parts, names: list[str], cells: Cells) -> Iterator[str]:
    """The rollup rows of the month cells and of the year cells summed from them, as COPY text
    lines of rollups.COLUMNS, each cell's labels those of its values."""
    from procurement.models import RollupPeriod

    def label(index: int, value: str) -> str:
        return parts.labels[index][value] if index else ""

    years: Cells = {}
    for (grouping, month, first, second), (total, count) in cells.items():
        _accumulate(years, (grouping, month.replace(month=1), first, second), total, count)
    for period, period_cells in ((RollupPeriod.MONTH, cells), (RollupPeriod.YEAR, years)):
        for (grouping, month, first, second), (total, count) in period_cells.items():
            _g, i, j = plan.groupings[grouping]
            yield (
                f"{names[grouping]}\t{period}\t{month.isoformat()}\t{first}\t{second}\t"
                f"{label(i, first)}\t{label(j, second)}\t{total}\t{count}\n"
            )


def _constraints_and_indexes(cursor, tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, name, statement re-creating it) for every index and constraint of `tables` but
    their primary keys: dropped during the load, re-created after it."""
    out = []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC",
            [table],
        )
        for name, definition in cursor.fetchall():
            out.append((table, name, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [table],
        )
        for name, definition in cursor.fetchall():
            out.append((table, name, definition))
    return out


def _drop(cursor, table: str, name: str, statement: str) -> None:
    if statement.startswith("ALTER TABLE"):
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    else:
        cursor.execute(f'DROP INDEX "{name}"')


def generate(
    total: int,
    *,
    workers: int = 2,
    seed: int = SEED,
    products: int = 600,
    quiet: bool = False,
    chunk: int = CHUNK,
) -> dict:
    """Write `total` entries, their rollups and their tree into the (empty) ledger of the
    configured PostgreSQL database, `chunk` entries (a power of two) per COPY. Returns the
    seconds of each step."""
    from django.db import connection, transaction
    from psycopg.conninfo import make_conninfo
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from bench import catalog_dataset
    from bench.ledger_reports import (
        SUPPLIERS,
        auditor,
        make_agencies,
        other_channels_import,
        products_by_supplier,
    )
    from procurement import ledger
    from procurement.models import (
        ContributionEntry,
        ContributionImport,
        ContributionRollup,
        LedgerHead,
        LedgerTreeNode,
    )
    from procurement.reports import rollups
    from procurement.transparency import store

    if chunk < 1 or chunk & (chunk - 1):
        raise ValueError("a chunk is a perfect subtree: a power of two entries")
    if connection.vendor != "postgresql":
        raise SystemExit("The generator writes with PostgreSQL's COPY: use a PostgreSQL database.")
    if ContributionEntry.objects.exists():
        raise SystemExit("The ledger is not empty (append-only: it cannot be reset).")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    catalog_dataset.generate(products=products, suppliers=SUPPLIERS)
    agencies = make_agencies()
    sellable = products_by_supplier()
    user = auditor()
    batch = other_channels_import(user, total)
    days, ends = day_counts(total)
    dims = sorted(rollups.DIMENSIONS)

    def column(attribute: str) -> str:
        return ContributionEntry._meta.get_field(attribute.removesuffix("_id")).column

    db = connection.settings_dict
    url = make_conninfo(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
    )
    plan = Plan(
        url=url,
        table=ContributionEntry._meta.db_table,
        node_table=LedgerTreeNode._meta.db_table,
        columns=[field.column for field in ContributionEntry._meta.concrete_fields],
        seed=seed,
        days=days,
        day_ends=ends,
        agencies=[(a.pk, a.name, a.type, a.city.name, ledger.kind_for(a.type)) for a in agencies],
        products=[
            (
                p.pk,
                p.name,
                p.supplier.pk,
                p.supplier.name,
                p.supplier.credit_code,
                p.origin_county.code,
                p.origin_county.name,
                p.category.name,
            )
            for p in sellable
        ],
        import_batch_id=batch.pk,
        user_id=user.pk,
        dimension_columns=[
            (column(value), column(label)) for value, label in (rollups.DIMENSIONS[d] for d in dims)
        ],
        groupings=[
            (g, *[dims.index(d) + 1 for d in grouping], *[0] * (2 - len(grouping)))
            for g, grouping in enumerate(rollups.GROUPINGS)
        ],
    )
    names = [rollups.grouping_key(grouping) for grouping in rollups.GROUPINGS]
    timings["setup"] = time.perf_counter() - started

    tables = [plan.table, plan.node_table, ContributionRollup._meta.db_table]
    with connection.cursor() as cursor:
        dropped = _constraints_and_indexes(cursor, tables)
        for table, name, statement in dropped:
            _drop(cursor, table, name, statement)
    connection.close()  # the workers fork: none may share this connection

    started = time.perf_counter()
    chunks = [(plan, s, min(s + chunk, total)) for s in range(0, total, chunk)]
    amount, subtrees = Decimal(0), []
    # The chunks' sums, added up as they come (a month spanning two chunks is in both).
    sums: tuple[Cells, Cells, Cells] = ({}, {}, {})
    with (
        multiprocessing.get_context("fork").Pool(workers) as pool,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=quiet,
        ) as progress,
    ):
        task = progress.add_task("entries and tree leaves (COPY)", total=total)
        for start, count, chunk_total, hashes, chunk_sums in pool.imap_unordered(
            _load_chunk, chunks
        ):
            amount += chunk_total
            subtrees.append((start, count, hashes))
            for into, cells in zip(sums, chunk_sums, strict=True):
                _add(into, cells)
            progress.advance(task, count)
    timings["entries and tree (COPY)"] = time.perf_counter() - started

    def step(name: str, function) -> None:
        began = time.perf_counter()
        if not quiet:
            print(f"  {name} …", flush=True)
        function()
        timings[name] = time.perf_counter() - began

    def restore(table: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _table, _name, statement in dropped:
                if _table == table:
                    cursor.execute(statement)

    def tree_top() -> None:
        nodes, tree = _upper_nodes(subtrees, total, chunk)
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY {plan.node_table} ({NODE_COLUMNS}) FROM STDIN") as copy:
                for node in nodes:
                    copy.write_row((*node, None))
        restore(plan.node_table)
        with transaction.atomic():
            LedgerHead.objects.update_or_create(
                pk=1,
                defaults={
                    "tree_size": total,
                    "sequenced_position": total,
                    "last_position": total,
                },
            )
            store.sign(tree)

    def roll_up() -> None:
        parts = Parts.of(plan)
        cells = _month_cells(plan, parts, sums)
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY {tables[2]} ({rollups.COLUMNS}) FROM STDIN") as copy:
                lines = _rollup_copy(plan, parts, names, cells)
                while batch := "".join(itertools.islice(lines, 20_000)):
                    copy.write(batch)

    def sequences() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval('procurement_ledger_position', %s)", [total])
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [plan.table, total]
            )
            cursor.execute(f"ANALYZE {plan.table}")  # noqa: S608 - our own table name

    ContributionImport.objects.filter(pk=batch.pk).update(total=amount)
    step("entry indexes and constraints", lambda: restore(plan.table))
    step("sequences and statistics", sequences)
    step("tree top, indexes, signed checkpoint", tree_top)
    step("rollups (COPY of the workers' cells)", roll_up)
    step("rollup index", lambda: restore(tables[2]))
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")  # noqa: S608 - our own table names
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a migrated PostgreSQL")
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.entries < 1 or args.workers < 1:
        parser.error("--entries and --workers must be positive")
    common.setup_django(common.production_env(args.database_url))
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    timings = generate(args.entries, workers=args.workers, seed=args.seed)
    wall = time.perf_counter() - started
    own, workers = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    print(
        f"Generated {args.entries:,} entries in {wall:.0f} s ({args.entries / wall:,.0f}/s, "
        f"load {load:.1f} → {os.getloadavg()[0]:.1f}; CPU: this process "
        f"{own.ru_utime + own.ru_stime:.1f} s, workers "
        f"{workers.ru_utime + workers.ru_stime:.1f} s, "
        f"PostgreSQL's not included; {common.machine_summary()}):"
    )
    for name, seconds in timings.items():
        print(f"  {name:40} {seconds:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
