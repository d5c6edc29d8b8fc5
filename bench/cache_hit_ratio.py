"""Storefront response cache beside a checkout load (issue 12): the hit ratio and latency of
anonymous `products(first: 50)` reads while 16 agencies buy.

    .venv/bin/python -m bench.cache_hit_ratio [--products 10000] [--agencies 16] [--checkouts 25]

A throw-away PostgreSQL with the catalog dataset (as bench.catalog_listing), gunicorn with
production settings and the response cache on. One reader loops over the first `--pages` pages
of the listing (a storefront's popular pages) for `--quiet-seconds` with no writes, then again
while the agencies check out through the service (bench.checkout_throughput's spread-out
scenario, one process per agency). Every checkout moves stock; stock has its own version
(catalog/version.py), so a cached page survives and only its variants' stock is read again (one
query) on the next hit after a checkout: the figure says how much a cache that is never stale
still saves under that load. Figures are printed, never asserted.
"""

import argparse
import http.client
import importlib
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench import common
from bench.catalog_listing import LISTING_QUERY, load_cursors, variables_for


def read_page(port: int, offset: int, page_size: int) -> tuple[float, str]:
    body = json.dumps({"query": LISTING_QUERY, "variables": variables_for(offset, page_size)})
    connection = http.client.HTTPConnection(common.LOOPBACK, port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("POST", "/graphql/", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"listing answered HTTP {response.status}")
        return time.perf_counter() - started, response.getheader("X-Response-Cache") or "none"
    finally:
        connection.close()


class Reader(threading.Thread):
    def __init__(self, port: int, offsets: list[int], page_size: int):
        super().__init__(daemon=True)
        self.port, self.offsets, self.page_size = port, offsets, page_size
        self.stop_event = threading.Event()
        self.samples: list[tuple[float, str]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        i = 0
        try:
            while not self.stop_event.is_set():
                offset = self.offsets[i % len(self.offsets)]
                self.samples.append(read_page(self.port, offset, self.page_size))
                i += 1
        except BaseException as error:  # a dead reader must fail the run, not print 0 reads
            self.error = error

    def finish(self) -> None:
        self.stop_event.set()
        self.join()
        if self.error is not None:
            raise RuntimeError("the reader failed") from self.error


def summary(samples: list[tuple[float, str]], seconds: float) -> str:
    hits = sum(1 for _s, state in samples if state == "hit")
    latencies = [s for s, _state in samples]
    figures = common.LatencySummary.of(latencies, seconds)
    return (
        f"{len(samples)} reads, hit ratio {hits / max(len(samples), 1):.1%}, "
        f"p50 {figures.p50:.1f} ms, p95 {figures.p95:.1f} ms, {len(samples) / seconds:.1f} reads/s"
    )


def run(args) -> int:
    from bench import checkout_throughput as checkout

    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-hits-"))
    postgres = server = None
    try:
        url, postgres = common.database(None)
        env = common.production_env(url, MEDIA_ROOT=str(workdir))
        common.setup_and_migrate(env, "Migrating and generating the catalog …")
        from bench import catalog_dataset

        catalog_dataset.generate(products=args.products, suppliers=args.suppliers)
        load_cursors()
        users = checkout.make_agencies(args.agencies)
        pool = checkout.variant_pool()
        total = args.agencies * args.checkouts
        baskets = checkout.spread_baskets(pool, total, args.seed)
        checkout.set_stock({v: 100_000 for basket in baskets for v in basket})

        server = common.GunicornServer(env=env, workdir=workdir, workers=args.workers)
        server.start()
        offsets = [page * args.page_size for page in range(args.pages)]

        reader = Reader(server.port, offsets, args.page_size)
        started = time.perf_counter()
        reader.start()
        time.sleep(args.quiet_seconds)
        reader.finish()
        quiet = summary(reader.samples, time.perf_counter() - started)

        rng = random.Random(args.seed)
        quantities = [[rng.randint(1, 3) for _ in range(checkout.LINES)] for _ in range(total)]
        per_user = [baskets[i :: len(users)] for i in range(len(users))]
        per_user_q = [quantities[i :: len(users)] for i in range(len(users))]
        reader = Reader(server.port, offsets, args.page_size)
        started = time.perf_counter()
        reader.start()
        result = checkout.run_scenario(
            "spread-out stock",
            users,
            per_user,
            per_user_q,
            f"hits-{uuid.uuid4().hex[:6]}",
            importlib.import_module("procurement.services.checkout"),
            url,
            lambda: common.process_tree_cpu_seconds(postgres.postmaster_pid()),
        )
        reader.finish()
        busy = summary(reader.samples, time.perf_counter() - started)

        attempts = max(result["attempted"], 1)
        print()
        print(f"Storefront cache hit ratio, {common.machine_summary()}")
        print(f"  reads      products(first: {args.page_size}) over the first {args.pages} pages")
        print(f"  quiet      {quiet}")
        print(
            f"  checkouts  {result['ok']} of {result['attempted']} checkouts by {len(users)} "
            f"agencies in {result['wall']:.1f} s ({result['ok'] / result['wall']:.1f}/s); CPU per "
            f"checkout attempt: {result['client_cpu'] / attempts * 1e3:.1f} ms Python + "
            f"{result['pg_cpu'] / attempts * 1e3:.1f} ms PostgreSQL (the server's processes, "
            "the reads' share included)"
        )
        print(f"  beside     {busy}")
        return 0
    finally:
        common.tear_down(server, postgres, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--suppliers", type=int, default=200)
    parser.add_argument("--agencies", type=int, default=16)
    parser.add_argument("--checkouts", type=int, default=25, help="per agency")
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--quiet-seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=12)
    return common.run_until_interrupted(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
