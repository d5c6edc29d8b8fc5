"""Ledger reports benchmark (issue 5): a large contribution ledger, then the latency of
`targetProgress` and `contributionSummary` and the peak memory of the full exports.

    .venv/bin/python -m bench.ledger_reports [--entries 1000000] [--calls 200]

1. Data. Without `--database-url` it starts a throw-away PostgreSQL (bench/common.py), migrates
   it and generates a small catalog (bench/catalog_dataset.py: 50 admitted suppliers and their
   products over the real Ningxia counties and categories) and 300 agencies over the 9 Fujian
   cities and the 8 agency types. It then books N entries dated 2021-01-01 … 2026-06-30 (growing
   over time, ~3 % negative corrections) through `procurement.ledger.append(batch)` in batches
   ordered by business date, so every entry is hash-chained and the monthly rollups are
   maintained exactly as the services and the worker do it (pending rows, folded every ten
   batches as the fold job would; no shortcut around hashing or rollups). The
   entries are synthetic other-channel entries (source IMPORT/ADJUSTMENT, one import batch) with
   real agency, supplier and product foreign keys; no orders stand behind them.
2. `procurement.ledger.verify()` over the whole chain (or `--verify-sample N`: only the first N
   entries, plus the head; say so when you report).
3. Latency, `--calls` sequential calls per query after 10 warm-up calls, as an auditor, both
   in-process (django.test.Client → /graphql/, with SQL query counts) and through gunicorn (one
   sync worker, fresh connection per request): `targetProgress(code: "minning-14th-plan")`,
   `contributionSummary` grouped by CITY, by CITY+CATEGORY and by YEAR.
4. Peak RSS (VmHWM) of a fresh gunicorn worker serving one full `/exports/contributions.csv` and
   one full `.xlsx` (the client streams and discards the body), against the worker's RSS
   before the export.

Figures are printed, never asserted. Everything it started is stopped and removed on exit.
"""

import http.client
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import common

GOAL_P95_MS = 50
GOAL_EXPORT_MIB = 100
AGENCIES = 300
SUPPLIERS = 50
FIRST_DAY = date(2021, 1, 1)
LAST_DAY = date(2026, 6, 30)
AUDITOR_EMAIL = "auditor@ledger.bench.shanhai.example"

QUERIES = {
    "targetProgress": """query { targetProgress(code: "minning-14th-plan") {
        achieved { amount } percent elapsedPercent projectedTotal { amount } onTrack
        byYear { year amount { amount } } } }""",
    "summary CITY": """query { contributionSummary(groupBy: [CITY]) {
        total { amount } entryCount rows { keys { dimension value label } total { amount }
        entryCount } } }""",
    "summary CITY+CATEGORY": """query { contributionSummary(groupBy: [CITY, CATEGORY]) {
        total { amount } entryCount rows { keys { dimension value label } total { amount }
        entryCount } } }""",
    "summary YEAR": """query { contributionSummary(groupBy: [YEAR]) {
        total { amount } entryCount rows { keys { dimension value label } total { amount }
        entryCount } } }""",
}


# --- Data -------------------------------------------------------------------------------------


def make_agencies() -> list:
    from catalog.models import City
    from procurement.models import Agency, AgencyType

    cities = list(City.objects.order_by("code"))
    types = list(AgencyType)
    districts = [
        "鼓楼区",
        "思明区",
        "城厢区",
        "梅列区",
        "鲤城区",
        "芗城区",
        "延平区",
        "新罗区",
        "蕉城区",
    ]
    existing = {a.credit_code: a for a in Agency.objects.filter(credit_code__startswith="12350L")}
    rng = random.Random(7)
    new = []
    for n in range(AGENCIES):
        code = f"12350L{n:012d}"
        if code not in existing:
            city = cities[n % len(cities)]
            new.append(
                Agency(
                    name=f"{city.name}第{n:03d}采购单位",
                    credit_code=code,
                    type=types[rng.randrange(len(types))],
                    city=city,
                    district=districts[n % len(districts)],
                )
            )
    Agency.objects.bulk_create(new)
    return list(
        Agency.objects.filter(credit_code__startswith="12350L").select_related("city")[:AGENCIES]
    )


def auditor():
    from shop.accounts.models import Role, User

    user, _ = User.objects.get_or_create(email=AUDITOR_EMAIL, defaults={"role": Role.AUDITOR})
    return user


def other_channels_import(user, total: int):
    """The import batch the synthetic other-channel entries of a bench belong to."""
    from procurement.models import ContributionImport

    return ContributionImport.objects.create(
        filename="bench-other-channels.csv",
        sha256="0" * 64,
        row_count=total,
        total=Decimal(0),
        created_by=user,
    )


def products_by_supplier():
    from django.utils import timezone

    from catalog.models import Product

    products = (
        Product.objects.sellable(timezone.localdate())
        .filter(slug__startswith="bench-")
        .select_related("supplier", "origin_county", "category")
        .order_by("pk")
    )
    return list(products)


def day_weights() -> tuple[list[date], list[float]]:
    """Every day of the period, weighted to grow ~35 % a year with a December peak."""
    days, weights = [], []
    day = FIRST_DAY
    while day <= LAST_DAY:
        years = (day - FIRST_DAY).days / 365.25
        weights.append(1.35**years * (1.6 if day.month == 12 else 1.0))
        days.append(day)
        day += timedelta(days=1)
    return days, weights


def entry_count() -> int:
    from procurement.models import LedgerHead

    head = LedgerHead.objects.filter(pk=1).first()
    return head.last_position if head else 0


CHANNELS = ["SHANHAI"] * 6 + ["832平台"] * 3 + ["线下"]


def synthetic_entry(rng, n: int, day: date, seed, agencies, products, batch_row, user):
    """One other-channel entry (unsaved) with real agency, supplier and product keys."""
    from procurement import ledger
    from procurement.models import ContributionEntry, ContributionSource

    agency = agencies[rng.randrange(len(agencies))]
    product = products[rng.randrange(len(products))]
    negative = rng.random() < 0.03
    amount = Decimal(f"{rng.lognormvariate(7.8, 1.1):.2f}")  # exact fen, never a float
    return ContributionEntry(
        kind=ledger.kind_for(agency.type),
        source=ContributionSource.ADJUSTMENT if negative else ContributionSource.IMPORT,
        amount=-amount if negative else amount,
        booked_at=datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo("Asia/Shanghai")),
        business_date=day,
        source_key=f"bench:{seed}:{n}",
        import_batch=None if negative else batch_row,
        invoice_number=f"FP{n:010d}",
        reason="退货冲减（压测）" if negative else "",
        channel=CHANNELS[n % len(CHANNELS)],
        **entry_parties(agency, product),
        created_by_id=user.pk,
    )


def entry_parties(agency, product) -> dict:
    """An entry's buyer, seller and product fields, as a booking copies them from the rows."""
    supplier = product.supplier
    return {
        "seller_credit_code": supplier.credit_code,
        "buyer_province": "福建省",
        "agency_id": agency.pk,
        "agency_name": agency.name,
        "agency_type": agency.type,
        "agency_city": agency.city.name,
        "supplier_id": supplier.pk,
        "supplier_name": supplier.name,
        "origin_province": "宁夏回族自治区",
        "origin_county_code": product.origin_county.code,
        "origin_county_name": product.origin_county.name,
        "category": product.category.name,
        "product_id": product.pk,
        "product_name": product.name,
    }


def book(total: int, batch_size: int, seed: int) -> dict:
    """Book `total` entries with ledger.append in date order; returns timings."""
    from django.db import connection, transaction

    from procurement import ledger
    from procurement.reports import rollups

    rng = random.Random(seed)
    agencies = make_agencies()
    products = products_by_supplier()
    user = auditor()
    with transaction.atomic():
        batch_row = other_channels_import(user, total)
    days, weights = day_weights()
    dates = sorted(rng.choices(days, weights, k=total))
    timings = {"build": 0.0, "append": 0.0, "hash": 0.0, "rollups": 0.0}

    def timed_fold() -> None:
        # What the worker's fold job does between bookings (on SQLite, append added already).
        started = time.perf_counter()
        rollups.fold()
        timings["rollups"] += time.perf_counter() - started

    started_all = time.perf_counter()
    for start in range(0, total, batch_size):
        started = time.perf_counter()
        entries = []
        for n in range(start, min(start + batch_size, total)):
            entries.append(
                synthetic_entry(rng, n, dates[n], seed, agencies, products, batch_row, user)
            )
        timings["build"] += time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic():
            ledger.append(entries)
        timings["append"] += time.perf_counter() - started
        done = start + len(entries)
        if done % (batch_size * 10) == 0 or done == total:
            timed_fold()
            elapsed = time.perf_counter() - started_all
            print(
                f"  booked {done:,}/{total:,} in {elapsed:.0f} s ({done / elapsed:,.0f}/s)",
                flush=True,
            )
    timings["wall"] = time.perf_counter() - started_all
    with connection.cursor() as cursor:
        for table in ("procurement_contributionentry", "procurement_contributionrollup"):
            cursor.execute(f"ANALYZE {table}")  # noqa: S608 - fixed table names
    return timings


def table_sizes() -> dict[str, tuple[int, str]]:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for table in ("procurement_contributionentry", "procurement_contributionrollup"):
            cursor.execute(
                f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) "  # noqa: S608
                f"FROM {table}"
            )
            out[table] = cursor.fetchone()
    return out


# --- Measuring --------------------------------------------------------------------------------


def in_process(token: str, calls: int) -> dict:
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME=common.LOOPBACK)  # ALLOWED_HOSTS is loopback only
    out = {}
    for name, query in QUERIES.items():
        body = json.dumps({"query": query})

        def post(body=body, name=name):
            response = client.post(
                "/graphql/",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            payload = response.json()
            if response.status_code != 200 or payload.get("errors"):
                raise SystemExit(f"{name} failed: {response.status_code} {payload}")
            return payload

        for _ in range(10):
            post()
        captured: list[tuple[str, float]] = []

        def timed(execute, sql, params, many, context, captured=captured):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                captured.append((sql, time.perf_counter() - started))

        # The request_started signal clears connection.queries, so wrap execution instead.
        with connection.execute_wrapper(timed):
            sample = post()
        latencies = []
        started = time.perf_counter()
        for _ in range(calls):
            t = time.perf_counter()
            post()
            latencies.append(time.perf_counter() - t)
        out[name] = {
            "summary": common.LatencySummary.of(latencies, time.perf_counter() - started),
            "queries": [(" ".join(sql.split()), secs * 1000) for sql, secs in captured],
            "sample": sample,
        }
    return out


def through_gunicorn(port: int, token: str, calls: int) -> dict:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
    }
    out = {}
    for name, query in QUERIES.items():
        body = json.dumps({"query": query}).encode()
        latencies = []
        for n in range(calls + 10):
            seconds, status, data = common.http_request(port, "POST", "/graphql/", body, headers)
            if status != 200 or json.loads(data).get("errors"):
                raise SystemExit(f"{name} through gunicorn failed: {status} {data[:300]!r}")
            if n >= 10:
                latencies.append(seconds)
        out[name] = common.LatencySummary.of(latencies, sum(latencies))
    return out


def stream_export(port: int, path: str, token: str) -> tuple[float, int, int]:
    """GET path, reading and discarding the body in 64 KiB chunks; (seconds, status, bytes)."""
    connection = http.client.HTTPConnection(common.LOOPBACK, port, timeout=1800)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        size = 0
        while chunk := response.read(65536):
            size += len(chunk)
        return time.perf_counter() - started, response.status, size
    finally:
        connection.close()


def export_memory(env, workdir: Path, token: str, extension: str) -> dict:
    server = common.GunicornServer(
        env=env, workdir=workdir, workers=1, extra_args=["--timeout", "1800"]
    )
    try:
        server.start()
        pid = server.worker_pids()[0]
        before = common.proc_status_kib(pid, "VmHWM") or 0
        seconds, status, size = stream_export(
            server.port, f"/exports/contributions.{extension}", token
        )
        after = common.proc_status_kib(pid, "VmHWM") or 0
        return {
            "status": status,
            "seconds": seconds,
            "bytes": size,
            "hwm_before": before / 1024,
            "hwm_after": after / 1024,
        }
    finally:
        server.stop()


# --- The run ----------------------------------------------------------------------------------


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-ledger-"))
    postgres = None
    server = None
    try:
        database_url, postgres = common.database(args.database_url)
        env = common.production_env(database_url, MEDIA_ROOT=str(workdir))
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connection

        from bench import catalog_dataset
        from procurement import ledger
        from shop.accounts.tokens import create_access_token

        print("Migrating and generating the catalog …", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        catalog_dataset.generate(products=args.products, suppliers=SUPPLIERS)
        existing = entry_count()
        timings = None
        if existing and existing != args.entries:
            raise SystemExit(
                f"The ledger already holds {existing:,} entries (append-only: cannot reset); "
                "use a fresh database."
            )
        if not existing:
            print(f"Booking {args.entries:,} ledger entries …", flush=True)
            timings = book(args.entries, args.batch, args.seed)
        sizes = table_sizes()

        print("Verifying the hash chain …", flush=True)
        started = time.perf_counter()
        if args.verify_sample:
            verified = verify_sample(args.verify_sample)
        else:
            verified = ledger.verify()
        verify_seconds = time.perf_counter() - started

        token = create_access_token(auditor())
        print(f"Timing {args.calls} in-process calls per query …", flush=True)
        inproc = in_process(token, args.calls)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
        connection.close()

        print(f"Timing {args.calls} calls per query through gunicorn …", flush=True)
        server = common.GunicornServer(env=env, workdir=workdir, workers=1)
        server.start()
        http = through_gunicorn(server.port, token, args.calls)
        server.stop()
        server = None

        exports = {}
        for extension in args.exports:
            print(f"Exporting the whole ledger as {extension} …", flush=True)
            exports[extension] = export_memory(env, workdir, token, extension)

        report(args, pg_version, timings, sizes, verified, verify_seconds, inproc, http, exports)
        return 0
    finally:
        common.tear_down(server, postgres, workdir=workdir)


def verify_sample(limit: int):
    """ledger.verify's checks over the first `limit` entries only."""
    from procurement import ledger
    from procurement.models import ContributionEntry

    checked = 0
    for entry in ContributionEntry.objects.order_by("position")[:limit].iterator(chunk_size=5000):
        if ledger.leaf_hash(entry).hex() != entry.hash:
            return ledger.VerifyResult(False, checked, entry.pk, "sample broken")
        checked += 1
    return ledger.VerifyResult(True, checked, None, f"first {limit:,} entries only")


def report(args, pg_version, timings, sizes, verified, verify_seconds, inproc, http, exports):
    import django

    print()
    print(f"Ledger reports benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  machine    {common.machine_summary()}; PostgreSQL {pg_version} (fsync off); "
        f"Django {django.get_version()}"
    )
    for table, (rows, size) in sizes.items():
        print(f"  table      {table}: {rows:,} rows, {size}")
    if timings:
        n = args.entries
        print(
            f"  booking    {n:,} entries in {timings['wall']:.0f} s ({n / timings['wall']:,.0f}/s) "
            f"through ledger.append in batches of {args.batch:,}: building objects "
            f"{timings['build']:.0f} s, append {timings['append']:.0f} s, rollup folds "
            f"{timings['rollups']:.0f} s"
        )
    print(
        f"  verify     ok={verified.ok}, {verified.entries_checked:,} entries checked in "
        f"{verify_seconds:.0f} s {verified.problem}"
    )
    print("  latency    in-process (django.test.Client → /graphql/, auditor token):")
    for name, data in inproc.items():
        print(f"    {name:22} {data['summary'].line()}; {len(data['queries'])} SQL queries")
    print("  latency    through gunicorn (1 sync worker, new connection per request):")
    for name, summary in http.items():
        print(f"    {name:22} {summary.line()}")
    worst = max(s.p95 for s in http.values()) if http else float("nan")
    print(
        f"  goal       p95 ≤ {GOAL_P95_MS} ms: {'met' if worst <= GOAL_P95_MS else 'missed'} "
        f"(worst p95 through gunicorn {worst:.1f} ms)"
    )
    for extension, e in exports.items():
        print(
            f"  export     {extension}: HTTP {e['status']}, {e['bytes'] / 2**20:,.1f} MiB in "
            f"{e['seconds']:.0f} s; worker VmHWM {e['hwm_before']:.1f} MiB before → "
            f"{e['hwm_after']:.1f} MiB after (goal ≤ {GOAL_EXPORT_MIB} MiB: "
            f"{'met' if e['hwm_after'] <= GOAL_EXPORT_MIB else 'missed'})"
        )
    print("\n  queries of one call (in-process):")
    for name, data in inproc.items():
        for sql, ms in data["queries"]:
            print(f"    {name:22} {ms:6.1f} ms  {sql[:130]}")


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, postgres_only=True)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000, help="entries per ledger.append")
    parser.add_argument("--products", type=int, default=600, help="catalog products")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per query")
    parser.add_argument(
        "--verify-sample", type=int, default=0, help="verify only the first N entries (0: all)"
    )
    parser.add_argument(
        "--exports",
        nargs="*",
        default=["csv", "xlsx"],
        choices=["csv", "xlsx"],
        help="exports to measure (none: skip)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.entries < 1 or args.batch < 1 or args.calls < 1:
        parser.error("--entries, --batch and --calls must be positive")
    return common.run_until_interrupted(run, args)


if __name__ == "__main__":
    sys.exit(main())
