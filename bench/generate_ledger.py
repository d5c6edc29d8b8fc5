"""A ledger of millions of entries in minutes, for the reports benchmarks (issue 15).

    .venv/bin/python -m bench.generate_ledger --database-url postgres://… [--entries 10000000]

Booking through the services runs at ~1,400 entries/s (two hours for ten million): every entry
is an INSERT and 112 rollup upserts. This writes the same rows the services would have written,
in bulk, on an empty ledger of a migrated PostgreSQL:

1. Entries: synthetic other-channel entries (source IMPORT, ~3 % ADJUSTMENT corrections) over
   the bench catalog's products and 300 agencies (bench/ledger_reports.py makes them), dated
   2021-01-01 … 2026-06-30 growing ~35 % a year, positions in date order. Each entry's hash is
   its Merkle leaf hash from `merkle.encode_leaf`, the function booking uses. Rows are built as
   COPY text by `--workers` processes, each COPYing its own chunks on its own connection, with
   the entry table's indexes and foreign keys dropped for the load and rebuilt after it (one
   sort per index instead of ten million insertions into each).
2. Rollups: `rollups.rebuild()`, in SQL: the finest cells in one pass, then ever coarser.
3. The tree: `store.checkpoint()`, the ledger's own sequencing and signing, writing the tree
   nodes with COPY (needs LEDGER_SIGNING_KEY like any checkpoint).
4. The position and id sequences set past the last entry, so booking continues from there.

`ledger.verify()` and `ledger.reconcile()` pass on the result (tests/bench/test_generate_ledger.py
checks it at a small size). Progress is shown with a bar; timings are printed per step.
"""

import argparse
import bisect
import multiprocessing
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench import common

CHUNK = 100_000
SEED = 2026


@dataclass(frozen=True)
class Plan:
    """What every worker needs to build its chunks, without touching Django."""

    url: str
    table: str
    columns: list[str]
    seed: int
    days: list[date]
    day_ends: list[int]  # cumulative entry counts: positions up to day_ends[i] fall on days[i]
    agencies: list[tuple]  # (id, name, type, city, kind)
    products: list[tuple]  # (id, name, supplier id, name, credit code, county code, name, cat.)
    import_batch_id: int
    user_id: int


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


def chunk_rows(plan: Plan, start: int, stop: int) -> tuple[str, Decimal]:
    """COPY text of the entries at positions start+1 … stop, and their sum."""
    from procurement.transparency import merkle

    rng = random.Random(plan.seed * 1_000_003 + start)
    shanghai = ZoneInfo("Asia/Shanghai")
    lines, total = [], Decimal(0)
    day_index = bisect.bisect_left(plan.day_ends, start + 1)
    for position in range(start + 1, stop + 1):
        while plan.day_ends[day_index] < position:
            day_index += 1
        day = plan.days[day_index]
        agency_id, agency_name, agency_type, city, kind = plan.agencies[
            rng.randrange(len(plan.agencies))
        ]
        product_id, product_name, supplier_id, supplier_name, credit, county, county_name, cat = (
            plan.products[rng.randrange(len(plan.products))]
        )
        negative = rng.random() < 0.03
        amount = Decimal(f"{rng.lognormvariate(7.8, 1.1):.2f}")
        if negative:
            amount = -amount
        total += amount
        booked_at = datetime(day.year, day.month, day.day, 12, tzinfo=shanghai).astimezone(UTC)
        values = {
            "position": position,
            "kind": kind,
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
            "seller_credit_code": credit,
            "reason": "退货冲减（压测）" if negative else "",
            "channel": CHANNELS[position % len(CHANNELS)],
            "buyer_province": "福建省",
            "agency_id": agency_id,
            "agency_name": agency_name,
            "agency_type": agency_type,
            "agency_city": city,
            "supplier_id": supplier_id,
            "supplier_name": supplier_name,
            "origin_province": "宁夏回族自治区",
            "origin_county_code": county,
            "origin_county_name": county_name,
            "category": cat,
            "product_id": product_id,
            "product_name": product_name,
            "created_by_id": plan.user_id,
        }
        values["id"] = position
        values["prev_hash"] = ""
        values["leaf_version"] = merkle.LEAF_VERSION
        values["hash"] = merkle.leaf_hash(merkle.encode_leaf(values, merkle.LEAF_VERSION)).hex()
        lines.append("\t".join([_text(values[column]) for column in plan.columns]))
    lines.append("")
    return "\n".join(lines), total


def _load_chunk(args: tuple[Plan, int, int]) -> tuple[int, Decimal]:
    import psycopg

    plan, start, stop = args
    text, total = chunk_rows(plan, start, stop)
    with (
        psycopg.connect(plan.url, autocommit=True) as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY {plan.table} ({', '.join(plan.columns)}) FROM STDIN") as copy,
    ):
        copy.write(text.encode())
    return stop - start, total


CHANNELS = ["SHANHAI"] * 6 + ["832平台"] * 3 + ["线下"]


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
    total: int, *, workers: int = 2, seed: int = SEED, products: int = 600, quiet: bool = False
) -> dict:
    """Write `total` entries, their rollups and their tree into the (empty) ledger of the
    configured PostgreSQL database. Returns the seconds of each step."""
    from django.db import connection, transaction
    from psycopg.conninfo import make_conninfo
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from bench import catalog_dataset
    from bench.ledger_reports import SUPPLIERS, auditor, make_agencies, products_by_supplier
    from procurement import ledger
    from procurement.models import ContributionEntry, ContributionImport, LedgerTreeNode
    from procurement.reports import rollups
    from procurement.transparency import store

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
    batch = ContributionImport.objects.create(
        filename="bench-other-channels.csv",
        sha256="0" * 64,
        row_count=total,
        total=Decimal(0),
        created_by=user,
    )
    days, ends = day_counts(total)
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
    )
    timings["setup"] = time.perf_counter() - started

    tables = [plan.table, LedgerTreeNode._meta.db_table]
    with connection.cursor() as cursor:
        dropped = _constraints_and_indexes(cursor, tables)
        for table, name, statement in dropped:
            _drop(cursor, table, name, statement)
    connection.close()  # the workers fork: none may share this connection

    started = time.perf_counter()
    chunks = [(plan, s, min(s + CHUNK, total)) for s in range(0, total, CHUNK)]
    amount = Decimal(0)
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
        task = progress.add_task("entries (COPY)", total=total)
        for count, chunk_total in pool.imap_unordered(_load_chunk, chunks):
            amount += chunk_total
            progress.advance(task, count)
    timings["entries"] = time.perf_counter() - started

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

    def roll_up() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            rollups.rebuild()

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
    step("rollups (SQL rebuild)", roll_up)
    step("tree and signed checkpoint", store.checkpoint)
    step("tree indexes and constraints", lambda: restore(tables[1]))
    with connection.cursor() as cursor:
        for table in (*tables, "procurement_contributionrollup"):
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
    started = time.perf_counter()
    timings = generate(args.entries, workers=args.workers, seed=args.seed)
    wall = time.perf_counter() - started
    print(
        f"Generated {args.entries:,} entries in {wall:.0f} s ({args.entries / wall:,.0f}/s, "
        f"{common.machine_summary()}):"
    )
    for name, seconds in timings.items():
        print(f"  {name:34} {seconds:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
