"""Catalog listing benchmark: `products(first: 50)` with variants, prices, images, supplier and
county, through the real server (gunicorn, one sync worker) on a 10,000-product dataset.

    .venv/bin/python -m bench.catalog_listing [--products 10000] [--requests 300] [--explain]

By default it starts a throw-away PostgreSQL (as tests/pgserver.py does), migrates it and
generates the dataset (bench/catalog_dataset.py); `--database-url` uses an existing database
instead (migrated and filled the same way). Then it starts gunicorn with production settings
on 127.0.0.1, warms it up and sends a fixed number of sequential POSTs, each for a different
page (`after` cursors spread over the whole listing), and prints latency percentiles,
requests per second, SQL queries per request and the worker's peak RSS. Figures are printed,
never asserted. Everything it started is stopped on exit, Ctrl-C or error.

SQL queries per request are counted without touching the application, two ways:

- in-process: the same request through `django.test.Client` on the same database inside
  `CaptureQueriesContext`, which also gives each query's time and text;
- server-side (throw-away PostgreSQL only): after the timed run, PostgreSQL logs every
  statement (`log_min_duration_statement = 0`) and connection for a few more requests through
  gunicorn, so the count includes whatever the real server does, e.g. connection set-up.
  The timed run itself runs without that logging.
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common

GOAL_P50_MS = 50
GOAL_QUERIES = 5

LISTING_QUERY = """
query Listing($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    totalCount
    edges {
      node {
        name
        slug
        hasGi
        category { name }
        originCounty { name }
        supplier { name county { name } }
        priceRange { start { amount } stop { amount } }
        variants {
          sku
          spec
          unitPrice { amount }
          quantityAvailable
          tiers { minQuantity unitPrice { amount } }
        }
        images { url thumbnails { size url } }
      }
    }
  }
}
"""


def page_offsets(total: int, page_size: int, count: int) -> list[int]:
    """`count` page start offsets visiting every page of the listing in a fixed scattered
    order (stride coprime with the number of pages), so shallow and deep pages alternate."""
    pages = max(1, total // page_size)
    stride = next(s for s in (37, 31, 29, 23, 19, 17, 13, 11, 7, 3, 1) if pages % s or s == 1)
    return [((i * stride) % pages) * page_size for i in range(count)]


_CURSORS: list[str] = []


def load_cursors() -> None:
    """The listing's keyset cursors in order (the API's own encoding), so that a request can
    start at any offset without walking the pages before it."""
    from catalog import selectors
    from shop.core.graphql.ids import encode_cursor

    rows = selectors.storefront_products().values_list("name", "pk")
    _CURSORS[:] = [encode_cursor("Query.products:name,pk", [name, pk]) for name, pk in rows]


def variables_for(offset: int, page_size: int) -> dict:
    return {"first": page_size, "after": _CURSORS[offset - 1] if offset else None}


def fetch_page(port: int, offset: int, page_size: int) -> tuple[float, str | None]:
    """One listing request over HTTP: its seconds, and why it is not a full page (None)."""
    seconds, status, payload = common.post_graphql(
        port, LISTING_QUERY, variables_for(offset, page_size)
    )
    return seconds, check_page(status, payload, page_size)


def check_page(status: int, payload: dict, page_size: int) -> str | None:
    """Why a response is not a full page of the listing, or None if it is."""
    if status != 200 or payload.get("errors"):
        return f"HTTP {status}: {str(payload.get('errors'))[:500]}"
    edges = ((payload.get("data") or {}).get("products") or {}).get("edges")
    if not edges or len(edges) != page_size:
        return f"expected {page_size} edges, got {len(edges or [])}"
    node = edges[0]["node"]
    if len(node["variants"]) != 3 or len(node["images"]) != 2:
        return "a product without its 3 variants and 2 images: is this the bench dataset?"
    return None


# --- In-process query count -------------------------------------------------------------------


def in_process_queries(offsets: list[int], page_size: int, explain: bool) -> dict:
    """Run the listing through django.test.Client with CaptureQueriesContext."""
    import json

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=common.LOOPBACK)
    counts, runs = [], []
    for offset in offsets:
        body = json.dumps({"query": LISTING_QUERY, "variables": variables_for(offset, page_size)})
        # CaptureQueriesContext counts (as the test suite does); its times have only 1 ms
        # resolution, so an execute wrapper times each query with perf_counter as well.
        timings: list[float] = []

        def timed(execute, sql, params, many, context, timings=timings):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append(time.perf_counter() - started)

        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
            started = time.perf_counter()
            response = client.post("/graphql/", body, content_type="application/json")
            elapsed = time.perf_counter() - started
        problem = check_page(response.status_code, response.json(), page_size)
        if problem:
            raise SystemExit(f"In-process listing at offset {offset} failed: {problem}")
        counts.append(len(captured.captured_queries))
        queries = [q["sql"] for q in captured.captured_queries]
        runs.append((offset, elapsed, list(zip(queries, timings, strict=True))))
    # Per-position figures (every request issues the same statements in the same order).
    deep = max(runs, key=lambda run: run[0])
    positions = []
    if len(set(counts)) == 1:
        for i, (sql, _s) in enumerate(runs[0][2]):
            times = [run[2][i][1] * 1000 for run in runs]
            positions.append((statistics.mean(times), max(times), sql))
    result = {
        "counts": counts,
        "elapsed_ms": [run[1] * 1000 for run in runs],
        "sql_ms": [sum(s for _q, s in run[2]) * 1000 for run in runs],
        "positions": positions,
        "explain": [],
    }
    if explain:
        slowest = sorted(deep[2], key=lambda query: query[1], reverse=True)[:2]
        with connection.cursor() as cursor:
            for sql, _s in slowest:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                result["explain"].append((deep[0], sql, plan))
    connection.close()
    return result


# --- The run ----------------------------------------------------------------------------------


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-"))
    postgres = None
    server = None
    try:
        database_url, postgres = common.database(args.database_url)
        env = common.production_env(
            database_url,
            DATABASE_CONN_MAX_AGE=str(args.conn_max_age),
            MEDIA_ROOT=str(workdir),
            # Uncached figures by default; --cached measures answers from the response cache.
            GRAPHQL_RESPONSE_CACHE="true" if args.cached else "false",
        )
        common.setup_and_migrate(env)
        from django.db import connection

        from bench import catalog_dataset

        dataset = catalog_dataset.generate(
            products=args.products, suppliers=args.suppliers, reset=args.reset_dataset
        )
        total = dataset.products
        load_cursors()
        connection.close()
        pg_version = common.server_version(database_url)

        offsets = page_offsets(total, args.page_size, args.requests)
        sample = sorted(set(offsets))[:: max(1, len(set(offsets)) // args.query_sample)]
        print("Counting queries in-process …", flush=True)
        inproc = in_process_queries(sample[: args.query_sample], args.page_size, args.explain)

        print(f"Starting gunicorn ({args.workers} worker) …", flush=True)
        server = common.GunicornServer(env=env, workdir=workdir, workers=args.workers)
        server.start()
        port = server.port
        worker_pids = server.worker_pids()

        warm = page_offsets(total, args.page_size, args.warmup + args.requests)[args.requests :]
        if args.cached:  # fill the cache with the very pages timed: the run measures hits
            warm = offsets
        for offset in warm:
            _s, problem = fetch_page(port, offset, args.page_size)
            if problem:
                raise SystemExit(f"Warm-up request failed: {problem}\n{server.log_tail()}")

        print(f"Timing {args.requests} sequential requests …", flush=True)
        postmaster = postgres.postmaster_pid() if postgres is not None else None
        cpu_before = cpu_snapshot(worker_pids, postmaster)
        latencies = []
        wall_started = time.perf_counter()
        for offset in offsets:
            seconds, problem = fetch_page(port, offset, args.page_size)
            if problem:
                raise SystemExit(f"Request at offset {offset} failed: {problem}")
            latencies.append(seconds)
        wall = time.perf_counter() - wall_started
        summary = common.LatencySummary.of(latencies, wall)
        cpu_after = cpu_snapshot(worker_pids, postmaster)
        cpu_ms = {
            name: (cpu_after[name] - before) * 1000 / len(offsets)
            for name, before in cpu_before.items()
            if before is not None and cpu_after.get(name) is not None
        }

        server_log = None
        if postgres is not None and postgres.log_path and args.log_requests:
            log_offsets = offsets[: args.log_requests]
            with common.StatementLog(postgres.admin_url, postgres.log_path) as log:
                for offset in log_offsets:
                    common.post_graphql(port, LISTING_QUERY, variables_for(offset, args.page_size))
            server_log = (log.result, len(log_offsets))

        rss = {
            pid: (common.proc_status_kib(pid, "VmHWM"), common.proc_status_kib(pid, "VmRSS"))
            for pid in worker_pids
        }

        report(
            args=args,
            dataset=dataset,
            pg_version=pg_version,
            summary=summary,
            offsets=offsets,
            latencies=latencies,
            inproc=inproc,
            server_log=server_log,
            rss=rss,
            total=total,
            cpu_ms=cpu_ms,
        )
        return 0
    finally:
        common.tear_down(server, postgres, workdir=workdir)


def cpu_snapshot(worker_pids: list[int], postmaster: int | None) -> dict[str, float | None]:
    """CPU seconds so far of the gunicorn workers, the PostgreSQL server (all its processes,
    including backends of closed connections) and this process."""
    workers = [common.proc_cpu_seconds(pid) for pid in worker_pids]
    return {
        "gunicorn worker": None if None in workers else sum(workers),
        "PostgreSQL": common.process_tree_cpu_seconds(postmaster) if postmaster else None,
        "this client": time.process_time(),
    }


def report(
    *,
    args,
    dataset,
    pg_version,
    summary,
    offsets,
    latencies,
    inproc,
    server_log,
    rss,
    total,
    cpu_ms,
):
    import django
    import gunicorn

    def p50(values):
        return common.percentile(values, 50) if values else float("nan")

    print()
    print(f"Catalog listing benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  machine    {common.machine_summary()}; PostgreSQL {pg_version}; "
        f"Django {django.get_version()}; gunicorn {gunicorn.__version__}, "
        f"{args.workers} sync worker; DATABASE_CONN_MAX_AGE={args.conn_max_age}"
    )
    print(f"  dataset    {dataset.line()}")
    print(
        f"  query      products(first: {args.page_size}) with variants, tiers, prices, images, "
        f"supplier, counties; {summary.count} sequential POSTs after {args.warmup} warm-up, "
        f"{len(set(offsets))} different pages"
    )
    print(f"  latency    {summary.line()}")
    print(f"  throughput {summary.per_second:.1f} requests/s (one client, sequential)")
    print(
        "  CPU        "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu_ms.items())
        + " per request"
    )
    quarter = total // 4
    shallow = [s * 1000 for s, o in zip(latencies, offsets, strict=True) if o < quarter]
    deep = [s * 1000 for s, o in zip(latencies, offsets, strict=True) if o >= total - quarter]
    print(
        f"  by depth   p50 {p50(shallow):.1f} ms for offsets < {quarter}, "
        f"p50 {p50(deep):.1f} ms for offsets ≥ {total - quarter}"
    )
    counts = sorted(set(inproc["counts"]))
    print(
        f"  SQL        {'/'.join(map(str, counts))} queries per request in-process "
        f"(django.test.Client + CaptureQueriesContext, {len(inproc['counts'])} pages); "
        f"p50 {p50(inproc['sql_ms']):.1f} ms in SQL of p50 {p50(inproc['elapsed_ms']):.1f} ms"
    )
    if server_log is not None:
        log, n = server_log
        print(
            f"  SQL        {log.statements / n:.1f} statements and {log.connections / n:.1f} "
            f"connections per request seen by PostgreSQL through gunicorn ({n} requests, "
            f"log_min_duration_statement=0); {log.server_ms / n:.1f} ms server time per request"
        )
    for pid, (hwm, now) in rss.items():
        print(
            f"  memory     gunicorn worker {pid}: peak RSS (VmHWM) {(hwm or 0) / 1024:.1f} MiB, "
            f"RSS now {(now or 0) / 1024:.1f} MiB"
        )
    met_latency = "met" if summary.p50 <= GOAL_P50_MS else "missed"
    met_queries = "met" if max(counts) <= GOAL_QUERIES else "missed"
    print(
        f"  goal       p50 ≤ {GOAL_P50_MS} ms: {met_latency}; ≤ {GOAL_QUERIES} queries per "
        f"request: {met_queries}"
    )
    if inproc["positions"]:
        print("\n  in-process queries, mean / max ms over the sampled pages:")
        for mean_ms, max_ms, sql in inproc["positions"]:
            text = " ".join(sql.split())
            print(f"    {mean_ms:7.2f} {max_ms:7.2f}  {text[:110]}")
    for offset, sql, plan in inproc["explain"]:
        print(f"\n  EXPLAIN ANALYZE at offset {offset}: {' '.join(sql.split())[:200]}")
        for line in plan.splitlines():
            print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, "use this database instead of a throw-away one")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--suppliers", type=int, default=200)
    parser.add_argument("--reset-dataset", action="store_true", help="regenerate the dataset")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300, help="timed requests")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="DATABASE_CONN_MAX_AGE for the server (default 60, the production default; "
        "0 opens a connection per request)",
    )
    parser.add_argument("--query-sample", type=int, default=20, help="pages counted in-process")
    parser.add_argument(
        "--log-requests",
        type=int,
        default=20,
        help="requests counted from PostgreSQL's log after the timed run (0: skip)",
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help="leave the storefront response cache on (the warm-up then fills it)",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the 2 slowest")
    args = parser.parse_args(argv)
    if not (1 <= args.page_size <= 100) or args.requests < 1 or args.products < args.page_size:
        parser.error("need 1 ≤ --page-size ≤ 100, --requests ≥ 1, --products ≥ --page-size")
    if args.database_url and not args.database_url.startswith(("postgres", "sqlite")):
        parser.error("--database-url must be a postgres:// (or sqlite://) URL")
    return common.run_until_interrupted(run, args)


if __name__ == "__main__":
    sys.exit(main())
