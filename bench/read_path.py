"""The storefront read path in one run (issue 12): listing, product detail and search, uncached
and cached, one client after another and 4 at once, with the worker's memory.

    .venv/bin/python -m bench.read_path [--products 10000] [--requests 200] [--database-url URL]

A throw-away PostgreSQL (or `--database-url`) with the catalog dataset (bench/catalog_dataset.py)
and the database search table, then `gunicorn shop.wsgi --workers 1` with production settings and
`DATABASE_CONN_MAX_AGE=60` (gunicorn reads ./gunicorn.conf.py by default: one gthread worker, the
dictionaries and schema loaded in the master), first with the response cache off, then on.
Each server gets, per workload:

- `listing`: bench.catalog_listing's `products(first: 50)` shape over pages spread over the
  whole listing (keyset cursors);
- `detail`: `product(slug:)` with variants, tiers, images, authorisations, supplier, counties;
- `search`: `search(query:, first: 20)` over the texts of the relevance set;

`--requests` sequential requests (p50/p95, and the worker's CPU time per request, which other
work on the machine inflates less than latency), then the same requests from 4 concurrent
clients (requests per second: the worker's capacity on what CPU the machine leaves it). With the
cache on, every request is made once before the timed runs, so those measure hits. Every answer
is checked for errors. After each server: the worker's peak RSS (VmHWM) and RSS/PSS/USS from
/proc/<pid>/smaps_rollup. SQL statements per request are counted in-process (django.test.Client
with CaptureQueriesContext, cache off). The load average is printed with each line: the machine
is shared, so figures are upper bounds. Figures are printed, never asserted.
"""

import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import common
from bench.catalog_listing import LISTING_QUERY, load_cursors, page_offsets, variables_for

DETAIL_QUERY = """
query Detail($slug: String!) {
  product(slug: $slug) {
    name slug description hasGi coldChain certifiedUntil
    category { name } originCounty { name prefecture }
    supplier { name county { name } }
    priceRange { start { amount } stop { amount } }
    variants { sku spec unit minimumOrderQuantity unitPrice { amount } quantityAvailable inStock
      tiers { minQuantity unitPrice { amount } } }
    images { url alt width height thumbnails { size url } }
    authorizations { kind name number expiresOn }
  }
}
"""
SEARCH_QUERY = """
query Search($q: String!) {
  search(query: $q, first: 20) {
    totalCount
    edges { node { name slug priceRange { start { amount } } images { url } } }
  }
}
"""


def workloads(total: int, count: int, seed: int) -> dict[str, list[tuple[str, dict]]]:
    from search.relevance import JUDGED

    rng = random.Random(seed)
    slugs = [f"bench-{rng.randrange(total):05d}" for _ in range(count)]
    texts = [JUDGED[i % len(JUDGED)].query for i in range(count)]
    rng.shuffle(texts)
    return {
        "listing": [(LISTING_QUERY, variables_for(o, 50)) for o in page_offsets(total, 50, count)],
        "detail": [(DETAIL_QUERY, {"slug": slug}) for slug in slugs],
        "search": [(SEARCH_QUERY, {"q": text}) for text in texts],
    }


def _check(name: str, status: int, payload: dict) -> None:
    if status != 200 or payload.get("errors") or not payload.get("data"):
        raise SystemExit(f"{name}: HTTP {status} {json.dumps(payload, ensure_ascii=False)[:300]}")
    if name == "detail" and payload["data"]["product"] is None:
        raise SystemExit("detail: no product: is this the bench dataset?")


def sequential(port: int, name: str, requests: list) -> common.LatencySummary:
    seconds = []
    started = time.perf_counter()
    for query, variables in requests:
        took, status, payload = common.post_graphql(port, query, variables)
        _check(name, status, payload)
        seconds.append(took)
    return common.LatencySummary.of(seconds, time.perf_counter() - started)


def concurrent(port: int, name: str, requests: list, clients: int) -> common.LatencySummary:
    seconds: list[float] = []
    problems: list[BaseException] = []
    lock = threading.Lock()

    def client(share: list) -> None:
        try:
            for query, variables in share:
                took, status, payload = common.post_graphql(port, query, variables)
                _check(name, status, payload)
                with lock:
                    seconds.append(took)
        except BaseException as problem:  # noqa: BLE001 - reported by the main thread
            problems.append(problem)

    threads = [
        threading.Thread(target=client, args=(requests[i::clients],)) for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if problems:
        raise SystemExit(f"{name} at concurrency {clients}: {problems[0]}")
    return common.LatencySummary.of(seconds, time.perf_counter() - started)


def in_process_queries(loads: dict) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=common.LOOPBACK)
    counts = {}
    for name, requests in loads.items():
        query, variables = requests[1]
        body = json.dumps({"query": query, "variables": variables})
        client.post("/graphql/", body, content_type="application/json")  # warm
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/graphql/", body, content_type="application/json")
        _check(name, response.status_code, response.json())
        counts[name] = len(captured.captured_queries)
    return counts


def serve(env: dict, workdir: Path, cached: bool, loads: dict, clients: int) -> list[str]:
    lines = []
    server_env = dict(env, GRAPHQL_RESPONSE_CACHE="true" if cached else "false")
    with common.GunicornServer(env=server_env, workdir=workdir, workers=1) as server:
        (worker,) = server.worker_pids()
        label = "cached  " if cached else "uncached"
        for name, requests in loads.items():
            for query, variables in requests[:20] if not cached else requests:
                _check(name, *common.post_graphql(server.port, query, variables)[1:])
            load = os.getloadavg()[0]
            cpu = common.proc_cpu_seconds(worker) or 0.0
            one = sequential(server.port, name, requests)
            cpu = ((common.proc_cpu_seconds(worker) or 0.0) - cpu) * 1000 / len(requests)
            four = concurrent(server.port, name, requests, clients)
            lines.append(
                f"{name:8} {label} load {load:5.2f}  1 client: p50 {one.p50:6.1f} ms "
                f"p95 {one.p95:6.1f} ms {one.per_second:6.1f} req/s worker CPU {cpu:5.1f} ms"
                f"   {clients} clients: "
                f"p50 {four.p50:6.1f} ms p95 {four.p95:6.1f} ms {four.per_second:6.1f} req/s"
            )
            print(lines[-1], flush=True)
        memory = common.proc_memory_mib(worker)
        lines.append(
            f"worker ({label.strip()}): peak RSS {memory['hwm']:.1f} MiB; now RSS "
            f"{memory['rss']:.1f} / PSS {memory['pss']:.1f} / USS {memory['uss']:.1f} MiB"
        )
        print(lines[-1], flush=True)
    return lines


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-read-"))
    postgres = None
    try:
        print(f"{common.machine_summary()}", flush=True)
        database_url, postgres = common.database(args.database_url)
        env = common.production_env(
            database_url,
            MEDIA_ROOT=str(workdir),
            DATABASE_CONN_MAX_AGE="60",
            SEARCH_BACKEND="",
            GRAPHQL_RESPONSE_CACHE="false",
        )
        env.pop("ELASTICSEARCH_URL", None)
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connection

        from bench import catalog_dataset
        from search.backends.database import DatabaseSearchBackend
        from search.models import ProductSearchEntry

        call_command("migrate", interactive=False, verbosity=0)
        dataset = catalog_dataset.generate(products=args.products)
        if ProductSearchEntry.objects.count() != dataset.products:
            print("Building the database search table …", flush=True)
            DatabaseSearchBackend().rebuild()
        load_cursors()
        loads = workloads(dataset.products, args.requests, args.seed)
        queries = in_process_queries(loads)
        print(
            "SQL statements per request (in-process, uncached): "
            + ", ".join(f"{name} {count}" for name, count in queries.items())
        )
        connection.close()
        for cached in (False, True):
            serve(env, workdir, cached, loads, args.clients)
        print(f"load average at the end: {os.getloadavg()}")
        return 0
    finally:
        common.tear_down(postgres, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
