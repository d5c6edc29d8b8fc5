"""Ledger booking throughput (issue 14): concurrent bookers through `ledger.append`, with the
CPU each entry costs split between the bookers (Python) and PostgreSQL (their backends), and
the fold's CPU per entry, on a throw-away PostgreSQL.

    .venv/bin/python -m bench.ledger_booking [--bookers 8] [--sizes 3,20]
        [--entries-per-booker 3000] [--dimensions orders|random] [--fold-every 10]
        [--profile N]

For each transaction size: `--bookers` processes (spawned, each on its own connection) book
`--entries-per-booker` entries in transactions of that many entries, all dated today (live
bookings share the month's rollup cells), while one more process runs `rollups.fold()` every
`--fold-every` seconds, as the worker does, and once after the last booking. The entries are
built before the clock starts (what a caller hands to `append`); their build CPU is printed
apart. Dimensions: `orders` (default), each transaction one order: one agency and one supplier,
lines of that supplier's products (orders repeat agencies and suppliers within a month);
`random`, each entry its own random agency and product (bench/ledger_reports.synthetic_entry,
the worst case for the fold: ~100 distinct cells per entry).

Printed per size, beside the 1-minute load average: entries/s (all entries ÷ wall time from
the common start to the last commit), booker CPU µs per entry (process CPU around `append` and
the commit), PostgreSQL CPU µs per entry of the bookers' backends (/proc/<pid>/stat of each
backend, before and after) and of the fold (its process and its backend), and the total. CPU
time is what compares runs on this shared machine; wall time moves with the others' load.
After the runs: the tree is checkpointed and `ledger.verify()` must hold (tree linear, rollups
exact). `--profile N`: first a cProfile of one process booking N transactions of each size
(top functions by own time).

Figures are printed, never asserted. The server is stopped and removed on exit.
"""

import base64
import cProfile
import io
import multiprocessing
import os
import pstats
import random
import sys
import time

from bench import common, ledger_reports


def backend_cpu(connection) -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (same machine)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return common.proc_cpu_seconds(pid) or 0.0


def order_entries(rng, count: int, per_booking: int, seed: str, today) -> list[list]:
    """Transactions of `per_booking` entries, each an order: one agency, one supplier, lines of
    the supplier's products (the shape checkout books)."""
    from procurement.models import ContributionEntry, ContributionSource

    agencies = ledger_reports.make_agencies()
    by_supplier: dict[int, list] = {}
    for product in ledger_reports.products_by_supplier():
        by_supplier.setdefault(product.supplier_id, []).append(product)
    suppliers = sorted(by_supplier)
    from procurement import ledger

    transactions = []
    for t in range(count // per_booking):
        agency = agencies[rng.randrange(len(agencies))]
        products = by_supplier[suppliers[rng.randrange(len(suppliers))]]
        entries = []
        for n in range(per_booking):
            product = products[rng.randrange(len(products))]
            entries.append(
                ContributionEntry(
                    kind=ledger.kind_for(agency.type),
                    source=ContributionSource.IMPORT,
                    amount=ledger_reports.Decimal(f"{rng.lognormvariate(6.5, 1.0):.2f}"),
                    business_date=today,
                    source_key=f"bench:{seed}:{t}:{n}",
                    invoice_number=f"FP{t:010d}",
                    channel="SHANHAI",
                    **ledger_reports.entry_parties(agency, product),
                )
            )
        transactions.append(entries)
    return transactions


def random_entries(rng, count: int, per_booking: int, seed: str, today) -> list[list]:
    from procurement.models import ContributionImport

    agencies = ledger_reports.make_agencies()
    products = ledger_reports.products_by_supplier()
    user = ledger_reports.auditor()
    batch_row = ContributionImport.objects.order_by("pk").first()
    return [
        [
            ledger_reports.synthetic_entry(
                rng, t * per_booking + k, today, seed, agencies, products, batch_row, user
            )
            for k in range(per_booking)
        ]
        for t in range(count // per_booking)
    ]


def build(dimensions: str, number: int, count: int, per_booking: int, tag: str) -> list[list]:
    from django.utils import timezone

    make = order_entries if dimensions == "orders" else random_entries
    return make(random.Random(number), count, per_booking, f"{tag}{number}", timezone.localdate())


def booker(args: tuple) -> dict:
    number, env, count, per_booking, dimensions, tag, start_at = args
    common.setup_django(env)
    from django.db import connection, transaction

    from procurement import ledger

    cpu = time.process_time()
    transactions = build(dimensions, number, count, per_booking, tag)
    build_cpu = time.process_time() - cpu
    connection.ensure_connection()
    time.sleep(max(start_at - time.time(), 0))
    database = backend_cpu(connection)
    started, cpu = time.time(), time.process_time()
    for entries in transactions:
        with transaction.atomic():
            ledger.append(entries)
    ended, cpu = time.time(), time.process_time() - cpu
    database = backend_cpu(connection) - database
    connection.close()
    booked = sum(map(len, transactions))
    return {
        "start": started,
        "end": ended,
        "entries": booked,
        "cpu": cpu,
        "db": database,
        "build_cpu": build_cpu,
    }


def folder(env, every: float, start_at: float, stop) -> dict:
    common.setup_django(env)
    from django.db import connection

    from procurement.reports import rollups

    connection.ensure_connection()
    time.sleep(max(start_at - time.time(), 0))
    database, cpu = backend_cpu(connection), time.process_time()
    runs, folded, longest = 0, 0, 0.0
    while True:
        finished = stop.is_set()
        started = time.perf_counter()
        folded += rollups.fold()
        longest = max(longest, time.perf_counter() - started)
        runs += 1
        if finished:
            break
        stop.wait(every)
    cpu = time.process_time() - cpu
    database = backend_cpu(connection) - database
    connection.close()
    return {"runs": runs, "entries": folded, "cpu": cpu, "db": database, "longest": longest}


def concurrent(args, env, per_booking: int, tag: str) -> None:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 20  # after every process has set Django up and built its entries
    with context.Manager() as manager, context.Pool(args.bookers + 1) as pool:
        stop = manager.Event()
        folds = pool.apply_async(folder, (env, args.fold_every, start_at, stop))
        jobs = [
            (n, env, args.entries_per_booker, per_booking, args.dimensions, tag, start_at)
            for n in range(args.bookers)
        ]
        load_before = os.getloadavg()[0]
        outcomes = pool.map(booker, jobs)
        load_after = os.getloadavg()[0]
        stop.set()
        fold = folds.get()
    wall = max(o["end"] for o in outcomes) - min(o["start"] for o in outcomes)
    entries = sum(o["entries"] for o in outcomes)

    def us(seconds: float) -> float:
        return seconds / entries * 1e6

    booker_cpu = sum(o["cpu"] for o in outcomes)
    booker_db = sum(o["db"] for o in outcomes)
    total = booker_cpu + booker_db + fold["cpu"] + fold["db"]
    print(
        f"  {per_booking:>2} per transaction: {entries:,} entries in {wall:.2f} s = "
        f"{entries / wall:,.0f} entries/s (load {load_before:.1f} -> {load_after:.1f})\n"
        f"     CPU per entry: booker {us(booker_cpu):.0f} µs + its PostgreSQL "
        f"{us(booker_db):.0f} µs; fold {us(fold['cpu']):.0f} µs + its PostgreSQL "
        f"{us(fold['db']):.0f} µs ({fold['runs']} folds, {fold['entries']:,} entries, longest "
        f"{fold['longest']:.2f} s); total {us(total):.0f} µs "
        f"(= {1e6 / us(total):,.0f} entries/s per CPU); entries' build "
        f"{us(sum(o['build_cpu'] for o in outcomes)):.0f} µs (not counted)",
        flush=True,
    )


def profile(args, sizes: list[int]) -> None:
    from django.db import connection, transaction

    from procurement import ledger

    for per_booking in sizes:
        tag = f"p{time.time_ns()}-"
        transactions = build(args.dimensions, 99, args.profile * per_booking, per_booking, tag)
        profiler = cProfile.Profile()
        database, cpu = backend_cpu(connection), time.process_time()
        profiler.enable()
        for entries in transactions:
            with transaction.atomic():
                ledger.append(entries)
        profiler.disable()
        cpu, database = time.process_time() - cpu, backend_cpu(connection) - database
        entries = args.profile * per_booking
        print(
            f"profile, {per_booking} per transaction, one process: {cpu / entries * 1e6:.0f} µs "
            f"Python (under cProfile) + {database / entries * 1e6:.0f} µs PostgreSQL per entry "
            f"(load {os.getloadavg()[0]:.1f})"
        )
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(out.getvalue()[-4000:])


def run(args) -> int:
    url, postgres = common.database(args.database_url)
    try:
        key = base64.b64encode(os.urandom(32)).decode()
        env = common.production_env(url, LEDGER_SIGNING_KEY=key)
        common.setup_and_migrate(env, "Migrating and generating the catalog …")
        from django.db import connections

        from bench import catalog_dataset
        from procurement import ledger
        from procurement.reports import rollups
        from procurement.transparency import store

        catalog_dataset.generate(products=200, suppliers=ledger_reports.SUPPLIERS)
        ledger_reports.make_agencies()
        ledger_reports.other_channels_import(ledger_reports.auditor(), 0)
        sizes = [int(n) for n in args.sizes.split(",")]
        if args.profile:
            profile(args, sizes)
            rollups.fold()
        connections.close_all()
        print(
            f"{args.bookers} bookers, {args.entries_per_booker:,} entries each, "
            f"{args.dimensions} dimensions, fold every {args.fold_every:g} s:",
            flush=True,
        )
        for per_booking in sizes:
            concurrent(args, env, per_booking, f"c{time.time_ns()}-")
        started = time.perf_counter()
        made = store.checkpoint()
        verified = ledger.verify()
        print(
            f"checkpoint of {made.tree_size:,} and verify in {time.perf_counter() - started:.1f} "
            f"s: {'ok' if verified.ok else verified.problem}",
            flush=True,
        )
        print(common.machine_summary())
        return 0 if verified.ok else 1
    finally:
        common.tear_down(postgres)


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, postgres_only=True)
    parser.add_argument("--bookers", type=int, default=8)
    parser.add_argument("--sizes", default="3,20", help="entries per transaction, comma-separated")
    parser.add_argument("--entries-per-booker", type=int, default=3000)
    parser.add_argument("--dimensions", choices=["orders", "random"], default="orders")
    parser.add_argument("--fold-every", type=float, default=10.0)
    parser.add_argument("--profile", type=int, default=0, help="transactions to profile per size")
    return common.run_until_interrupted(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
