"""Search benchmark (issue 6): latency of the relevance-set queries at 100,000 products on the
database backend (PostgreSQL) and on OpenSearch, and full reindex throughput into OpenSearch.

    .venv/bin/python -m bench.search_latency [--products 100000] [--rounds 5] [--no-engine]

1. Without `--database-url` it starts a throw-away PostgreSQL (bench/common.py), migrates it
   and generates N sellable products (bench/catalog_dataset.py: names such as 中宁枸杞头茬枸杞干果,
   盐池滩羊滩羊肉卷 over the real counties and categories, so the judged queries match thousands).
2. Builds the database search table (`DatabaseSearchBackend().rebuild()`: jieba + pypinyin per
   product into `search_productsearchentry` with its tsvector/GIN index) and times it.
3. Database backend: every judged query of `search.relevance.JUDGED` (text and filters) as
   `backend.search(SearchRequest(limit=20, facets=True))`, i.e. what the GraphQL `search` field
   asks of the backend (hits, total, facets), `--rounds` rounds in a fixed shuffled order after
   one warm-up round; in-process, so no HTTP. p50/p95 overall, per kind of query and the
   slowest queries; also p50/p95 without facets, and the CPU per search (this thread plus the
   PostgreSQL backend, from /proc/PID/schedstat), which a loaded machine does not inflate.
   `--baseline FILE` (another search/backends/database.py) is timed in turns with the current
   backend, query by query.
4. OpenSearch: starts a node with `search/opensearch_node/start.sh DATA_DIR PORT` in a temporary
   folder on a free loopback port, times a full `reindex()` (new index, bulk, alias swap) in
   documents per second, runs the same queries, and stops the node with `stop.sh`.

Relevance (precision/MRR) needs the demo catalog and is `manage.py search_relevance`'s job;
here the judged queries are only the workload. Figures are printed, never asserted.
"""

import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bench import common

GOAL_DB_P95_MS = 30
GOAL_REINDEX_SECONDS = 120
NODE_DIR = common.PROJECT_ROOT / "search" / "opensearch_node"
ALIAS = "shanhai-bench-products"


def requests_for(judged, facets: bool):
    from search.query import SearchRequest
    from search.relevance import _filters

    return [
        (
            item.query,
            item.kind,
            SearchRequest(item.query, _filters(item.filters), limit=20, facets=facets),
        )
        for item in judged
    ]


def _schedstat_ns(pid: int) -> int:
    """Nanoseconds a process has run on a CPU (/proc/PID/schedstat), not waiting for one."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def cpu_clock():
    """A clock of the CPU a search costs: this thread's CPU time plus that of the PostgreSQL
    backend serving Django's connection (it runs on this machine). On a loaded machine the
    wall time mostly measures the CPU queue; this does not. None when the server's process
    cannot be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        _schedstat_ns(pid)
    except OSError:
        return None
    return lambda: time.thread_time_ns() + _schedstat_ns(pid)


def process_cpu_clock(pid: int):
    """A clock of a multi-threaded server's CPU (all its threads: utime + stime of
    /proc/PID/stat, in clock ticks, so only sums over many searches mean anything) plus this
    thread's; None when the process cannot be read."""
    ticks = os.sysconf("SC_CLK_TCK")

    def process_ns() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // ticks

    try:
        process_ns()
    except (OSError, ValueError, IndexError):
        return None
    return lambda: time.thread_time_ns() + process_ns()


def time_queries(backends: dict, requests, rounds: int, seed: int, cpu=None) -> dict:
    """One warm-up round, then `rounds` rounds in a shuffled order; latencies per query. With
    several backends they take turns query by query, so that all see the same load."""
    for backend in backends.values():
        for _text, _kind, request in requests:
            backend.search(request)
    results = {
        label: {
            "per_query": defaultdict(list),
            "totals": {},
            "fallbacks": 0,
            "everything": [],
            "cpu": [],
            "sql": [],
        }
        for label in backends
    }
    from django.db import connection

    statements = [0]

    def counting(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    rng = random.Random(seed)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for _ in range(rounds):
        order = list(requests)
        rng.shuffle(order)
        for text, kind, request in order:
            for label, backend in backends.items():
                result = results[label]
                cpu_before = cpu() if cpu else 0
                statements_before = statements[0]
                t = time.perf_counter()
                with connection.execute_wrapper(counting):
                    found = backend.search(request)
                seconds = time.perf_counter() - t
                result["sql"].append(statements[0] - statements_before)
                if cpu:
                    result["cpu"].append((cpu() - cpu_before) / 1e9)
                result["fallbacks"] += bool(getattr(found, "fallback", False))
                result["per_query"][f"{text} [{kind}]"].append(seconds)
                result["totals"][f"{text} [{kind}]"] = found.total
                result["everything"].append(seconds)
    wall = time.perf_counter() - started
    load = (load_before, os.getloadavg()[0])
    for result in results.values():
        result["load"] = load
        result["sql"] = sum(result["sql"]) / len(result["sql"])
        result["summary"] = common.LatencySummary.of(result.pop("everything"), wall)
        cpu_times = result.pop("cpu")
        result["cpu"] = common.LatencySummary.of(cpu_times, wall) if cpu_times else None
    return results


def load_baseline(path: str):
    """A DatabaseSearchBackend from another version of search/backends/database.py (e.g.
    `git show <commit>:search/backends/database.py > old.py`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"baseline_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DatabaseSearchBackend()


def start_node(data_dir: Path, port: int) -> None:
    env = dict(os.environ)
    env.setdefault("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m")
    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(NODE_DIR / "start.sh"), str(data_dir), str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"start.sh failed ({result.returncode}):\n{result.stdout[-3000:]}")


def stop_node(data_dir: Path) -> None:
    if (data_dir / "opensearch.pid").exists():
        subprocess.run(  # noqa: S603 - fixed argv
            [str(NODE_DIR / "stop.sh"), str(data_dir)],
            capture_output=True,
            timeout=120,
            check=False,
        )


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-search-"))
    node_dir = workdir / "opensearch"
    postgres = None
    node_started = False
    try:
        database_url, postgres = common.database(args.database_url)
        env = common.production_env(database_url, MEDIA_ROOT=str(workdir), SEARCH_BACKEND="")
        env.pop("ELASTICSEARCH_URL", None)
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connection

        from bench import catalog_dataset
        from search.backends.database import DatabaseSearchBackend
        from search.models import ProductSearchEntry
        from search.relevance import JUDGED

        print("Migrating and generating the catalog …", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        dataset = catalog_dataset.generate(products=args.products)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]

        database = DatabaseSearchBackend()
        entries = ProductSearchEntry.objects.count()
        db_build = None
        if entries != dataset.products or args.rebuild:
            print(f"Building the database search table for {dataset.products:,} products …")
            started = time.perf_counter()
            entries = database.rebuild()
            db_build = time.perf_counter() - started
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE search_productsearchentry")

        print(f"Timing {len(JUDGED)} judged queries × {args.rounds} rounds on the database …")
        databases = {"current": database}
        if args.baseline:
            databases = {"baseline": load_baseline(args.baseline), **databases}
        cpu = cpu_clock()
        db_runs = time_queries(databases, requests_for(JUDGED, True), args.rounds, args.seed, cpu)
        db_plain = time_queries(
            {"current": database}, requests_for(JUDGED, False), args.rounds, args.seed, cpu
        )["current"]
        db = db_runs["current"]

        engine = None
        if not args.no_engine:
            from search.backends.elasticsearch import ElasticsearchSearchBackend

            port = common.free_port()
            print(f"Starting OpenSearch on 127.0.0.1:{port} …", flush=True)
            node_started = True
            started = time.perf_counter()
            start_node(node_dir, port)
            node_start = time.perf_counter() - started
            backend = ElasticsearchSearchBackend(
                url=f"http://{common.LOOPBACK}:{port}",
                opensearch=True,
                alias=ALIAS,
                timeout=60,
                refresh=False,
            )
            print(f"Reindexing {entries:,} products into OpenSearch …", flush=True)
            started = time.perf_counter()
            indexed = backend.reindex()
            reindex_seconds = time.perf_counter() - started
            backend.client().indices.refresh(index=ALIAS)
            print(f"Timing the judged queries × {args.rounds} rounds on OpenSearch …")
            node_pid = int((node_dir / "opensearch.pid").read_text().split()[0])
            node_cpu = process_cpu_clock(node_pid)
            engine = {
                "start": node_start,
                "indexed": indexed,
                "reindex": reindex_seconds,
                "facets": time_queries(
                    {"engine": backend}, requests_for(JUDGED, True), args.rounds, 1, node_cpu
                )["engine"],
                "plain": time_queries(
                    {"engine": backend}, requests_for(JUDGED, False), args.rounds, 1
                )["engine"],
            }
            backend.close()

        report(args, dataset, pg_version, entries, db_build, db, db_plain, engine)
        if args.baseline:
            print(f"  baseline ({args.baseline}), in turns with the current backend, facets:")
            print(f"    latency {_run(db_runs['baseline'])}")
            if db_runs["baseline"]["cpu"]:
                print(f"    CPU     {db_runs['baseline']['cpu'].line()}")
            for line in _by_kind(db_runs["baseline"]):
                print(f"    {line}")
        return 0
    finally:
        if node_started:
            stop_node(node_dir)
        common.tear_down(postgres, workdir=workdir)


def _slowest(result: dict, n: int) -> list[str]:
    rows = sorted(
        result["per_query"].items(),
        key=lambda item: common.percentile(item[1], 50),
        reverse=True,
    )[:n]
    return [
        f"{common.percentile([s * 1000 for s in times], 50):7.1f} ms p50  "
        f"{result['totals'][name]:>7,} hits  {name}"
        for name, times in rows
    ]


def _by_kind(result: dict) -> list[str]:
    """p50 / p95 per kind of judged query (everyday, pinyin, typo, ...), slowest p95 first."""
    kinds: dict[str, list[float]] = defaultdict(list)
    for name, times in result["per_query"].items():
        kinds[name.rsplit("[", 1)[1].rstrip("]")] += [s * 1000 for s in times]
    rows = sorted(kinds.items(), key=lambda item: -common.percentile(item[1], 95))
    return [
        f"{kind:<14} p50 {common.percentile(ms, 50):6.1f} ms  "
        f"p95 {common.percentile(ms, 95):6.1f} ms  ({len(ms)} searches)"
        for kind, ms in rows
    ]


def _run(result: dict) -> str:
    """Latency, SQL statements per search and the 1-minute load average before → after."""
    before, after = result["load"]
    return (
        f"{result['summary'].line()}; {result['sql']:.1f} SQL/search; "
        f"load {before:.1f} → {after:.1f}"
    )


def report(args, dataset, pg_version, entries, db_build, db, db_plain, engine):
    import django

    print()
    print(f"Search latency benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  machine    {common.machine_summary()}; PostgreSQL {pg_version} (fsync off); "
        f"Django {django.get_version()}"
    )
    print(f"  dataset    {dataset.line()}; {entries:,} search entries")
    if db_build is not None:
        print(
            f"  db index   database search table built in {db_build:.0f} s "
            f"({entries / db_build:,.0f} products/s: jieba + pypinyin + tsvector)"
        )
    n = len(db["per_query"])
    print(
        f"  workload   {n} judged queries (search.relevance.JUDGED) × {args.rounds} rounds "
        "after a warm-up round, limit 20, in-process backend.search()"
    )
    print(f"  database   with facets:    {_run(db)}")
    print(f"  database   without facets: {_run(db_plain)}")
    if db["cpu"]:
        print(
            f"  database   CPU per search (client thread + PostgreSQL backend), with facets: "
            f"{db['cpu'].line()}"
        )
    p95 = db["summary"].p95
    print(
        f"  goal       database p95 ≤ {GOAL_DB_P95_MS} ms: "
        f"{'met' if p95 <= GOAL_DB_P95_MS else 'missed'} ({p95:.1f} ms with facets)"
    )
    print("  slowest on the database (with facets):")
    for line in _slowest(db, 8):
        print(f"    {line}")
    print("  database with facets, per kind of query:")
    for line in _by_kind(db):
        print(f"    {line}")
    if engine:
        rate = engine["indexed"] / engine["reindex"]
        print(
            f"  opensearch node started in {engine['start']:.0f} s; full reindex of "
            f"{engine['indexed']:,} documents in {engine['reindex']:.1f} s ({rate:,.0f} docs/s); "
            f"goal < {GOAL_REINDEX_SECONDS} s: "
            f"{'met' if engine['reindex'] < GOAL_REINDEX_SECONDS else 'missed'}"
        )
        print(
            f"  opensearch with facets:    {_run(engine['facets'])}; "
            f"{engine['facets']['fallbacks']} fell back to the database"
        )
        if engine["facets"]["cpu"]:
            print(
                "  opensearch CPU per search (client thread + every OpenSearch thread, in clock "
                f"ticks: the mean is the figure), with facets: mean "
                f"{engine['facets']['cpu'].mean:.1f} ms"
            )
        print(
            f"  opensearch without facets: {_run(engine['plain'])}; "
            f"{engine['plain']['fallbacks']} fell back"
        )
        print("  slowest on OpenSearch (with facets):")
        for line in _slowest(engine["facets"], 5):
            print(f"    {line}")
        print("  OpenSearch with facets, per kind of query:")
        for line in _by_kind(engine["facets"]):
            print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, postgres_only=True)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of the judged set")
    parser.add_argument("--no-engine", action="store_true", help="skip OpenSearch")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the search table")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--baseline",
        help="another search/backends/database.py, timed in turns with the current one",
    )
    args = parser.parse_args(argv)
    if args.products < 1 or args.rounds < 1:
        parser.error("--products and --rounds must be positive")
    return common.run_until_interrupted(run, args)


if __name__ == "__main__":
    sys.exit(main())
