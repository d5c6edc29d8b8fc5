"""Checkout throughput benchmark (issue 4): 16 concurrent agencies on PostgreSQL, each checkout
10 lines across 3 suppliers, on hot stock (everyone buys the same 10 variants) and on spread-out
stock (each checkout picks its own variants).

    .venv/bin/python -m bench.checkout_throughput [--agencies 16] [--checkouts 25]

Each agency is its own OS process (forked after Django is set up, so no shared GIL) with its own
database connection, calling `procurement.services.checkout.checkout_create` directly, i.e. the
service without GraphQL/HTTP on top. All processes start together on a barrier. It prints
checkouts and orders per second, p50/p95 latency, deadlocks and lock/serialisation retries, the
queries one checkout runs, and checks that nothing was oversold: no stock below zero and, per
variant, initial − final == quantity sold. On hot stock one of the 10 variants only has stock
for about 90 % of the checkouts, so the last buyers must fail with INSUFFICIENT_STOCK.

Without `--database-url` it starts a throw-away PostgreSQL (bench/common.py), migrates it and
generates a small catalog (bench/catalog_dataset.py). Figures are printed, never asserted.
"""

import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common

GOAL_ORDERS_PER_SECOND = 200
GOAL_P95_MS = 250
AGENCY_EMAIL_DOMAIN = "agency.bench.shanhai.example"
LINES = 10
SUPPLIERS_PER_CHECKOUT = 3
LINES_PER_SUPPLIER = (4, 3, 3)
MAX_ATTEMPTS = 5


# --- Data -------------------------------------------------------------------------------------


def make_agencies(count: int) -> list[int]:
    """`count` bench agencies (types and cities rotating) with one buyer each; user ids."""
    from catalog.models import City
    from procurement.membership import agency_member_add
    from procurement.models import Agency, AgencyType
    from shop.accounts.models import Role, User

    cities = list(City.objects.order_by("code"))
    types = list(AgencyType)
    users = []
    for n in range(count):
        code = f"12350000BENCH{n:05d}"[:18]
        agency, _ = Agency.objects.get_or_create(
            credit_code=code,
            defaults={
                "name": f"压测采购单位{n:02d}",
                "type": types[n % len(types)],
                "city": cities[n % len(cities)],
            },
        )
        user, created = User.objects.get_or_create(
            email=f"buyer{n:02d}@{AGENCY_EMAIL_DOMAIN}", defaults={"role": Role.AGENCY}
        )
        if created:
            agency_member_add(user, agency)
        users.append(user.pk)
    return users


def load_buyer(user_id: int) -> Any:
    """A buyer as a request loads its user (shop/accounts/backends.py: with its memberships,
    their organisations and the duties on them), the agency's city too (read once per process
    here, once per checkout request in production)."""
    from shop.accounts.models import User

    return (
        User.objects.with_organisations()
        .select_related("agency_membership__agency__city")
        .get(pk=user_id)
    )


def variant_pool() -> dict[int, list[int]]:
    """Sellable bench variants with a minimum order of 1, by supplier id (suppliers with at
    least 4 such variants)."""
    from django.utils import timezone

    from catalog.models import Product, ProductVariant

    sellable = Product.objects.sellable(timezone.localdate()).filter(slug__startswith="bench-")
    by_supplier: dict[int, list[int]] = defaultdict(list)
    for variant_id, supplier_id in (
        ProductVariant.objects.filter(product__in=sellable, minimum_order_quantity=1)
        .order_by("pk")
        .values_list("pk", "product__supplier_id")
    ):
        by_supplier[supplier_id].append(variant_id)
    return {s: v for s, v in by_supplier.items() if len(v) >= max(LINES_PER_SUPPLIER)}


def set_stock(stock: dict[int, int]) -> None:
    from catalog.models import ProductVariant

    variants = list(ProductVariant.objects.filter(pk__in=stock))
    for variant in variants:
        variant.stock = stock[variant.pk]
    ProductVariant.objects.bulk_update(variants, ["stock"], batch_size=2000)


def stock_of(variant_ids) -> dict[int, int]:
    from catalog.models import ProductVariant

    return dict(ProductVariant.objects.filter(pk__in=variant_ids).values_list("pk", "stock"))


def hot_basket(pool: dict[int, list[int]], rng: random.Random) -> list[int]:
    suppliers = rng.sample(sorted(pool), SUPPLIERS_PER_CHECKOUT)
    basket = []
    for supplier, n in zip(suppliers, LINES_PER_SUPPLIER, strict=True):
        basket += pool[supplier][:n]
    return basket


def spread_baskets(pool: dict[int, list[int]], count: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    suppliers = sorted(pool)
    baskets = []
    for _ in range(count):
        basket = []
        for supplier, n in zip(
            rng.sample(suppliers, SUPPLIERS_PER_CHECKOUT), LINES_PER_SUPPLIER, strict=True
        ):
            basket += rng.sample(pool[supplier], n)
        baskets.append(basket)
    return baskets


# --- Lock waits -------------------------------------------------------------------------------


class LockSampler:
    """Samples pg_stat_activity every `interval` seconds from its own connection (a thread of
    the parent process, which otherwise only waits) and integrates how many backends wait on a
    heavyweight lock (`wait_event_type = 'Lock'`): the sum over samples of waiters × the time
    since the previous sample estimates the total lock wait of the run. Each waiter is also
    counted by its wait event (transactionid: waiting for another transaction's row lock to
    end; tuple: queued behind another waiter for the same row) and by the statement it waits
    in, so the report says *which* statement queues. Sampling, not tracing: waits shorter than
    the interval are seen in proportion to their share of the time."""

    def __init__(self, database_url: str, interval: float = 0.01):
        import threading

        self.database_url = database_url
        self.interval = interval
        self.waiting_seconds = 0.0
        self.by_event: Counter = Counter()
        self.by_statement: Counter = Counter()
        self.samples = 0
        self.active_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            last = time.perf_counter()
            while not self._stop.wait(self.interval):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                ).fetchall()
                now = time.perf_counter()
                dt, last = now - last, now
                self.samples += 1
                for state, wait_type, event, query in rows:
                    if state == "active":
                        self.active_seconds += dt
                    if wait_type == "Lock":
                        self.waiting_seconds += dt
                        self.by_event[event] += dt
                        self.by_statement[" ".join((query or "").split())[:60]] += dt


# --- Workers ----------------------------------------------------------------------------------


def _cause_name(error: BaseException) -> str:
    cause = error.__cause__ or error
    return type(cause).__name__


def buyer(user_id, baskets, quantities, key_prefix, barrier, results, impl) -> None:
    """One agency: its own process and connection, checkouts one after another."""
    from django.db import OperationalError, connection

    CheckoutLine, ShippingAddress, checkout_create = (  # noqa: N806 - classes of the module
        impl.CheckoutLine,
        impl.ShippingAddress,
        impl.checkout_create,
    )
    from shop.core.errors import DomainError, DomainErrors

    user = load_buyer(user_id)
    shipping = ShippingAddress("压测收货人", "0591-88888888", "福州市鼓楼区压测路1号")
    out = []
    barrier.wait()
    for n, basket in enumerate(baskets):
        lines = [CheckoutLine(v, q) for v, q in zip(basket, quantities[n], strict=True)]
        key = f"{key_prefix}-{user_id}-{n}-{uuid.uuid4().hex[:8]}"
        retries, deadlocks, outcome, orders = 0, 0, "ok", 0
        started = time.perf_counter()
        for attempt in range(MAX_ATTEMPTS):
            try:
                orders = len(
                    checkout_create(
                        acting_user=user, lines=lines, shipping=shipping, idempotency_key=key
                    )
                )
                outcome = "ok"
                break
            except OperationalError as error:
                name = _cause_name(error)
                if name == "DeadlockDetected":
                    deadlocks += 1
                outcome = name
                if attempt + 1 < MAX_ATTEMPTS:
                    retries += 1
                    continue
            except DomainErrors as error:
                outcome = ",".join(sorted({str(e.code) for e in error.errors}))
                break
            except DomainError as error:
                outcome = str(error.code)
                break
        out.append((time.perf_counter() - started, outcome, orders, retries, deadlocks))
    connection.close()
    results.put(out)


def run_scenario(
    name, users, baskets_per_user, quantities_per_user, key_prefix, impl, database_url, pg_cpu
) -> dict:
    from django.db import connections

    connections.close_all()  # children open their own
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(users) + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=buyer,
            args=(
                user,
                baskets_per_user[i],
                quantities_per_user[i],
                key_prefix,
                barrier,
                results,
                impl,
            ),
            daemon=True,
        )
        for i, user in enumerate(users)
    ]
    cpu_before = os.times()
    pg_before = pg_cpu()
    for process in processes:
        process.start()
    sampler = LockSampler(database_url)
    try:
        barrier.wait(timeout=120)
        started = time.perf_counter()
        load_before = os.getloadavg()[0]
        sampler.start()
        rows = []
        for _ in processes:
            rows += results.get(timeout=900)
        wall = time.perf_counter() - started
    finally:
        sampler.stop()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
    cpu_after = os.times()
    pg_used = pg_cpu() - pg_before
    client_cpu = (cpu_after.children_user - cpu_before.children_user) + (
        cpu_after.children_system - cpu_before.children_system
    )
    ok = [r for r in rows if r[1] == "ok"]
    return {
        "name": name,
        "wall": wall,
        "attempted": len(rows),
        "ok": len(ok),
        "orders": sum(r[2] for r in ok),
        "outcomes": Counter(r[1] for r in rows),
        "retries": sum(r[3] for r in rows),
        "deadlocks": sum(r[4] for r in rows),
        "latency_ok": [r[0] for r in ok],
        "latency_all": [r[0] for r in rows],
        "client_cpu": client_cpu,
        "pg_cpu": pg_used,
        "locks": sampler,
        "load": (load_before, os.getloadavg()[0]),
    }


def oversell_check(initial: dict[int, int], key_prefix: str) -> tuple[bool, str]:
    from django.db.models import Sum

    from procurement.models import OrderLine

    final = stock_of(initial)
    sold = dict(
        OrderLine.objects.filter(order__checkout__idempotency_key__startswith=key_prefix + "-")
        .values("variant_id")
        .annotate(q=Sum("quantity"))
        .values_list("variant_id", "q")
    )
    negative = [v for v, s in final.items() if s < 0]
    wrong = [v for v in initial if initial[v] - final[v] != sold.get(v, 0)]
    outside = set(sold) - set(initial)
    ok = not negative and not wrong and not outside
    text = (
        f"{len(initial)} variants: {len(negative)} below zero, {len(wrong)} where "
        f"initial − final ≠ sold, {len(outside)} sold outside the set; "
        f"{sum(sold.values()):,} units sold == {sum(initial.values()) - sum(final.values()):,} "
        f"taken from stock"
    )
    return ok, text


def count_queries(user_id: int, basket: list[int], impl) -> tuple[int, float, list[str]]:
    """One checkout in this process inside CaptureQueriesContext, each query timed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CheckoutLine, ShippingAddress, checkout_create = (  # noqa: N806 - classes of the module
        impl.CheckoutLine,
        impl.ShippingAddress,
        impl.checkout_create,
    )

    user = load_buyer(user_id)
    timings: list[float] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(time.perf_counter() - started)

    with connection.execute_wrapper(timed), CaptureQueriesContext(connection) as captured:
        checkout_create(
            acting_user=user,
            lines=[CheckoutLine(v, 1) for v in basket],
            shipping=ShippingAddress("计数", "0591-1", "福州"),
            idempotency_key=f"count-{uuid.uuid4().hex}",
        )
    texts = [" ".join(q["sql"].split())[:90] for q in captured.captured_queries]
    return len(captured.captured_queries), sum(timings) * 1000, texts


# --- The run ----------------------------------------------------------------------------------


def load_implementations(baselines: list[str]) -> list[tuple[str, Any]]:
    """Each --baseline FILE (e.g. `git show <commit>:procurement/services/checkout.py`) loaded
    as a module and named after its file, then ("current", procurement.services.checkout)."""
    import importlib
    import importlib.util

    impls = []
    for path in baselines:
        label = Path(path).stem
        spec = importlib.util.spec_from_file_location(f"checkout_{len(impls)}_{label}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        impls.append((label, module))
    return [*impls, ("current", importlib.import_module("procurement.services.checkout"))]


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-checkout-"))
    postgres = None
    try:
        database_url, postgres = common.database(args.database_url)
        # Each process keeps its connection for the whole run (no request cycle closes it).
        env = common.production_env(database_url, MEDIA_ROOT=str(workdir))
        common.setup_and_migrate(env, "Migrating and generating the catalog …")
        from django.db import connection

        from bench import catalog_dataset

        dataset = catalog_dataset.generate(products=args.products, suppliers=args.suppliers)
        users = make_agencies(args.agencies + 1)
        counting_user, users = users[-1], users[: args.agencies]
        pool = variant_pool()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
            cursor.execute("SHOW max_connections")
            max_connections = cursor.fetchone()[0]

        impls = load_implementations(args.baseline)
        postmaster = (
            postgres.postmaster_pid()
            if postgres is not None
            else common.local_postmaster_pid(database_url)
        )

        def pg_cpu() -> float:
            """CPU seconds of the server's processes so far (nan for a server elsewhere)."""
            if postmaster is None:
                return float("nan")
            return common.process_tree_cpu_seconds(postmaster)

        rng = random.Random(args.seed)
        run_id = uuid.uuid4().hex[:6]
        total = args.agencies * args.checkouts
        results = []

        # Query count of one checkout per implementation (not timed with the others).
        count_basket = hot_basket(pool, random.Random(args.seed + 1))
        set_stock(dict.fromkeys(count_basket, 1_000_000))
        counted = {label: count_queries(counting_user, count_basket, impl) for label, impl in impls}

        # Hot stock: the same 10 variants for everybody; the first one runs out near the end.
        # With --baseline the implementations take turns, round after round, so that both see
        # the same machine load (the machine is shared).
        hot = hot_basket(pool, rng)
        scarce = int(total * args.scarce_share)
        quantities = [
            [[1] + [rng.randint(1, 3) for _ in hot[1:]] for _ in range(args.checkouts)]
            for _ in users
        ]
        for round_no in range(1, args.rounds + 1 if args.scenario != "spread" else 1):
            for label, impl in impls:
                hot_stock = dict.fromkeys(hot, 1_000_000)
                hot_stock[hot[0]] = scarce
                set_stock(hot_stock)
                prefix = f"bench-{run_id}-hot-{label}-{round_no}"
                print(
                    f"Hot stock ({label}, round {round_no}): {len(users)} agencies × "
                    f"{args.checkouts} checkouts on the same {len(hot)} variants …",
                    flush=True,
                )
                result = run_scenario(
                    f"hot stock, {label}, round {round_no}",
                    users,
                    [[hot] * args.checkouts for _ in users],
                    quantities,
                    prefix,
                    impl,
                    database_url,
                    pg_cpu,
                )
                result["oversell"] = oversell_check(hot_stock, prefix)
                result["note"] = f"variant {hot[0]} had stock for {scarce} of {total} checkouts"
                result["expected_ok"] = scarce
                results.append(result)

        # Spread-out stock: every checkout its own 10 variants of 3 random suppliers.
        baskets = spread_baskets(pool, total, args.seed + 2)
        quantities = [[rng.randint(1, 3) for _ in range(LINES)] for _ in range(total)]
        per_user = [baskets[i :: len(users)] for i in range(len(users))]
        per_user_q = [quantities[i :: len(users)] for i in range(len(users))]
        for label, impl in impls if args.scenario != "hot" else ():
            spread_stock = {v: 100_000 for basket in baskets for v in basket}
            set_stock(spread_stock)
            prefix = f"bench-{run_id}-spread-{label}"
            print(
                f"Spread-out stock ({label}): {len(users)} agencies × {args.checkouts} "
                f"checkouts over {len(spread_stock):,} variants of {len(pool)} suppliers …",
                flush=True,
            )
            result = run_scenario(
                f"spread-out stock, {label}",
                users,
                per_user,
                per_user_q,
                prefix,
                impl,
                database_url,
                pg_cpu,
            )
            result["oversell"] = oversell_check(spread_stock, prefix)
            result["note"] = f"{len(spread_stock):,} distinct variants"
            result["expected_ok"] = total
            results.append(result)

        report(args, dataset, pg_version, max_connections, results, counted)
        return 0
    finally:
        common.tear_down(postgres, workdir=workdir)


def report(args, dataset, pg_version, max_connections, results, counted):
    import django

    print()
    print(f"Checkout throughput benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  machine    {common.machine_summary()}; PostgreSQL {pg_version} "
        f"(fsync off, max_connections {max_connections}); Django {django.get_version()}"
    )
    print(f"  dataset    {dataset.line()}")
    print(
        f"  load       {args.agencies} agency processes (fork, one DB connection each) calling "
        f"checkout_create directly, {args.checkouts} checkouts each, {LINES} lines over "
        f"{SUPPLIERS_PER_CHECKOUT} suppliers ({'/'.join(map(str, LINES_PER_SUPPLIER))}) → "
        f"3 orders per checkout; up to {MAX_ATTEMPTS} attempts on lock errors"
    )
    for label, (n_queries, sql_ms, _texts) in counted.items():
        print(
            f"  per call   {label}: {n_queries} SQL queries per checkout (one checkout, "
            f"in-process, CaptureQueriesContext), {sql_ms:.1f} ms in SQL with no other "
            f"checkout running"
        )
    for r in results:
        ok_ms = r["latency_ok"] or [float("nan")]
        summary = common.LatencySummary.of(ok_ms, r["wall"])
        outcomes = ", ".join(f"{k} {v}" for k, v in r["outcomes"].most_common())
        print(f"\n  {r['name']} ({r['note']})")
        print(
            f"    throughput  {r['ok'] / r['wall']:.1f} checkouts/s, "
            f"{r['orders'] / r['wall']:.1f} orders/s ({r['ok']} checkouts, {r['orders']} orders "
            f"in {r['wall']:.2f} s wall)"
        )
        print(f"    latency     successful checkouts: {summary.line()}")
        all_ms = [s * 1000 for s in r["latency_all"]]
        print(
            f"                all attempts: p50 {common.percentile(all_ms, 50):.1f} ms, "
            f"p95 {common.percentile(all_ms, 95):.1f} ms"
        )
        print(f"    outcomes    {outcomes} (expected ok: {r['expected_ok']})")
        attempts = max(r["attempted"], 1)
        print(
            f"    CPU         {r['client_cpu'] * 1000 / attempts:.1f} ms of Python "
            f"(user+sys of the agency processes) + {r['pg_cpu'] * 1000 / attempts:.1f} ms of "
            f"PostgreSQL per checkout attempt; other work shares the same {os.cpu_count()} CPUs"
        )
        print(f"    locking     deadlocks {r['deadlocks']}, retries {r['retries']}")
        locks = r["locks"]
        per_attempt = locks.waiting_seconds * 1000 / max(r["attempted"], 1)
        events = ", ".join(f"{k} {v:.1f} s" for k, v in locks.by_event.most_common())
        print(
            f"    lock wait   {per_attempt:.1f} ms per checkout attempt "
            f"({locks.waiting_seconds:.1f} s in all, {locks.samples} samples of "
            f"pg_stat_activity; {events or 'none'}); "
            f"backends active {locks.active_seconds / r['wall']:.1f} on average"
        )
        for statement, seconds in locks.by_statement.most_common(3):
            print(f"                {seconds:.1f} s waiting in: {statement}")
        print(f"    load avg    {r['load'][0]:.2f} at the start, {r['load'][1]:.2f} at the end")
        ok, text = r["oversell"]
        print(f"    oversell    {'none' if ok else 'FOUND'}: {text}")
    for hot in (r for r in results if r["name"].startswith("hot stock")):
        rate = hot["orders"] / hot["wall"]
        p95 = common.percentile([s * 1000 for s in hot["latency_ok"]] or [float("nan")], 95)
        met = (
            rate >= GOAL_ORDERS_PER_SECOND
            and p95 <= GOAL_P95_MS
            and hot["oversell"][0]
            and not hot["deadlocks"]
        )
        print(
            f"\n  goal       ≥ {GOAL_ORDERS_PER_SECOND} orders/s, p95 ≤ {GOAL_P95_MS} ms on hot "
            f"stock, zero oversell and deadlocks: {'met' if met else 'missed'} by {hot['name']} "
            f"({rate:.1f} orders/s, p95 {p95:.0f} ms, load {hot['load'][0]:.2f})",
            end="",
        )
    print()
    for label, (_n, _ms, texts) in counted.items():
        print(f"\n  the queries of one checkout ({label}):")
        for text in texts:
            print(f"    {text}")


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, postgres_only=True)
    parser.add_argument("--agencies", type=int, default=16, help="concurrent agency processes")
    parser.add_argument("--checkouts", type=int, default=25, help="checkouts per agency")
    parser.add_argument("--products", type=int, default=2_000, help="catalog size")
    parser.add_argument("--suppliers", type=int, default=60)
    parser.add_argument(
        "--scarce-share",
        type=float,
        default=0.9,
        help="hot stock: share of the checkouts the scarce variant has stock for",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--scenario", choices=("both", "hot", "spread"), default="both", help="which to run"
    )
    parser.add_argument("--rounds", type=int, default=1, help="hot-stock rounds per implementation")
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        action="append",
        default=[],
        help="another checkout.py (e.g. `git show <commit>:procurement/services/checkout.py`) "
        "to run in turns with the current one on the same database (repeatable)",
    )
    args = parser.parse_args(argv)
    if not (1 <= args.agencies <= 64) or not (1 <= args.checkouts <= 1000):
        parser.error("need 1 ≤ --agencies ≤ 64 and 1 ≤ --checkouts ≤ 1000")
    if not 1 <= args.rounds <= 10:
        parser.error("need 1 ≤ --rounds ≤ 10")
    return common.run_until_interrupted(run, args)


if __name__ == "__main__":
    sys.exit(main())
