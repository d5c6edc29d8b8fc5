"""How the ledger's reports and exports cost as the ledger grows (issue 15 items 2–5).

    .venv/bin/python -m bench.ledger_scale [--sizes 1000000 3000000 10000000] [--calls 50]

For each size, in a process of its own: a throw-away PostgreSQL, migrated, filled by
bench/generate_ledger.py (its steps timed), `ledger.verify()` timed up to `--verify-up-to`
entries; then `--calls` in-process calls (django.test.Client, after 5 warm-up calls) of each
report: `targetProgress`, `contributionSummary` by one and by two dimensions (first page, as a
client asks without `first`), the `contributions` first page and a deep page (a keyset cursor
in the middle of the ledger), and the dashboard page (GET /dashboard/ signed in as the auditor).
Each query's line carries the load average at its start and the CPU time of this process (the
application; PostgreSQL's own CPU is the rest) per call.

Exports: `/exports/contributions.csv` and `.xlsx` of 1,000,000 rows (the whole ledger at 1M; a
`dateTo` slice of the first ~1M entries on larger ledgers) from a fresh gunicorn worker, one
export per worker, the client streaming and discarding the body. Measured on the worker:
VmHWM (peak RSS), RSS/PSS/USS from smaps_rollup before and after, its CPU time; and the
download rate per 5-second window (min / median / max) with the time to the first byte.
`--server plain` is `gunicorn shop.wsgi` with one sync worker (what earlier runs measured);
`--server production` adds `-c gunicorn.conf.py` (gthread, the master warms the search
dictionaries up and the worker shares them: its RSS counts those shared pages, PSS splits them).

A PNG of p95 and export seconds against size is written (matplotlib, the `bench` extra).
Figures are printed, never asserted.

`--database-url URL …` measures ledgers generated earlier (`bench.generate_ledger` into a kept
PostgreSQL, e.g. /work/data/pg-ledger-10m) instead: each URL is one size, nothing is generated
and the database is left as it was (but for the sessions and tokens the calls create).
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common, ledger_reports

SUMMARY = """total { amount } entryCount rows { keys { dimension value label } total { amount }
        entryCount }"""
EXPORT_ROWS = 1_000_000


def summary(group_by: str) -> str:
    return f"query {{ contributionSummary(groupBy: [{group_by}]) {{ {SUMMARY} }} }}"


CONTRIBUTIONS = (
    "edges { node { id amount { amount } businessDate agencyName supplierName } } "
    "pageInfo { endCursor hasNextPage }"
)
QUERIES = {
    "targetProgress": ledger_reports.QUERIES["targetProgress"],
    "summary YEAR": summary("YEAR"),
    "summary CITY": summary("CITY"),
    "summary AGENCY": summary("AGENCY"),
    "summary SUPPLIER": summary("SUPPLIER"),
    "summary CITY+CATEGORY": summary("CITY, CATEGORY"),
    "summary AGENCY+SUPPLIER": summary("AGENCY, SUPPLIER"),
    "summary AGENCY+SUPPLIER, rowCount": (
        f"query {{ contributionSummary(groupBy: [AGENCY, SUPPLIER]) {{ rowCount {SUMMARY} }} }}"
    ),
    "summary YEAR+AGENCY": summary("YEAR, AGENCY"),
    "summary MONTH+COUNTY": summary("MONTH, COUNTY"),
    "contributions first page": f"query {{ contributions(first: 50) {{ {CONTRIBUTIONS} }} }}",
}
KEYSET_SCOPE = "Query.contributions:-position"  # shop.core.graphql.connection._scope


def deep_page_query(entries: int) -> str:
    from shop.core.graphql.ids import encode_cursor

    cursor = encode_cursor(KEYSET_SCOPE, [entries // 2])
    return f'query {{ contributions(first: 50, after: "{cursor}") {{ {CONTRIBUTIONS} }} }}'


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def reports(token: str, user, calls: int, size: int) -> dict:
    """In-process latency of each report: {name: {summary, load, cpu_ms, queries}}."""
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME=common.LOOPBACK)
    dashboard = Client(SERVER_NAME=common.LOOPBACK)
    dashboard.force_login(user)
    requests = {
        name: (lambda q=query: _post(client, token, q))
        for name, query in {**QUERIES, "contributions deep page": deep_page_query(size)}.items()
    }
    requests["dashboard"] = lambda: _get(dashboard, "/dashboard/")
    out = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]  # PostgreSQL's CPU per call is this process's
    for name, call in requests.items():
        for _ in range(5):
            call()
        # Counted by a wrapper: a request's start clears the connection's query log.
        statements: list[str] = []

        def counted(run, sql, *rest, statements=statements):
            statements.append(sql)
            return run(sql, *rest)

        with connection.execute_wrapper(counted):
            call()
        load = os.getloadavg()[0]
        cpu = _cpu()
        backend_cpu = common.proc_cpu_seconds(backend) or 0.0
        latencies = []
        started = time.perf_counter()
        for _ in range(calls):
            t = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - t)
        wall = time.perf_counter() - started
        out[name] = {
            "summary": common.LatencySummary.of(latencies, wall).__dict__,
            "load": load,
            "cpu_ms": (_cpu() - cpu) * 1000 / calls,
            "db_cpu_ms": ((common.proc_cpu_seconds(backend) or 0.0) - backend_cpu) * 1000 / calls,
            "queries": len(statements),
        }
        print(f"    {name:28} {_line(out[name])}", flush=True)
    return out


def _line(data: dict) -> str:
    s = common.LatencySummary(**data["summary"])
    return (
        f"p50 {s.p50:7.1f} ms  p95 {s.p95:7.1f} ms  max {s.max:7.1f} ms  CPU/call app "
        f"{data['cpu_ms']:5.1f} ms, PostgreSQL {data.get('db_cpu_ms', 0):5.1f} ms  "
        f"{data['queries']:2d} SQL  load {data['load']:.1f}"
    )


def _post(client, token: str, query: str) -> None:
    response = client.post(
        "/graphql/",
        json.dumps({"query": query}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    payload = response.json()
    if response.status_code != 200 or payload.get("errors"):
        raise SystemExit(f"{query[:60]} failed: {response.status_code} {payload}")


def _get(client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code}")


def export_slice(size: int) -> str:
    """The query string selecting about EXPORT_ROWS entries: everything on a ledger that small,
    else the days up to the one where the EXPORT_ROWS-th entry falls."""
    if size <= EXPORT_ROWS:
        return ""
    from bench import generate_ledger

    days, ends = generate_ledger.day_counts(size)
    for day, end in zip(days, ends, strict=True):
        if end >= EXPORT_ROWS:
            return f"?dateTo={day.isoformat()}"
    return ""


def export(env, workdir: Path, token: str, extension: str, query: str, server: str) -> dict:
    extra = ["--timeout", "3600"]
    if server == "production":
        extra = ["-c", str(common.PROJECT_ROOT / "gunicorn.conf.py"), *extra]
    gunicorn = common.GunicornServer(env=env, workdir=workdir, workers=1, extra_args=extra)
    try:
        gunicorn.start()
        time.sleep(1)
        pid = gunicorn.worker_pids()[0]
        before = common.proc_memory_mib(pid)
        cpu_before = common.proc_cpu_seconds(pid) or 0.0
        load = os.getloadavg()[0]
        connection = http.client.HTTPConnection(common.LOOPBACK, gunicorn.port, timeout=3600)
        windows, size, first_byte = [], 0, None
        try:
            started = time.perf_counter()
            connection.request(
                "GET",
                f"/exports/contributions.{extension}{query}",
                headers={"Authorization": f"Bearer {token}"},
            )
            response = connection.getresponse()
            window_start, window_bytes = time.perf_counter(), 0
            while chunk := response.read(65536):
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                size += len(chunk)
                window_bytes += len(chunk)
                now = time.perf_counter()
                if now - window_start >= 5:
                    windows.append(window_bytes / (now - window_start) / 2**20)
                    window_start, window_bytes = now, 0
            seconds = time.perf_counter() - started
            status = response.status
        finally:
            connection.close()
        after = common.proc_memory_mib(pid)
        return {
            "status": status,
            "seconds": seconds,
            "bytes": size,
            "first_byte": first_byte or seconds,
            "rate_mib_s": [min(windows), statistics.median(windows), max(windows)]
            if windows
            else [size / 2**20 / seconds] * 3,
            "before": before,
            "after": after,
            "worker_cpu": (common.proc_cpu_seconds(pid) or 0.0) - cpu_before,
            "load": (load, os.getloadavg()[0]),
        }
    finally:
        gunicorn.stop()


KEY = "c2hhbmhhaS1sZWRnZXItc2NhbGUtYmVuY2gta2V5ISE="


def measure(size: int, args) -> dict:
    """One size: generated now in a throw-away PostgreSQL (`size` entries), or, with
    `args.database_url`, the ledger already there (`size` is ignored)."""
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-ledger-scale-"))
    postgres = None if args.database_url else common.ThrowAwayPostgres().start()
    try:
        url = args.database_url or postgres.url
        env = common.production_env(url, MEDIA_ROOT=str(workdir), LEDGER_SIGNING_KEY=KEY)
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connections

        from bench import generate_ledger
        from procurement import ledger
        from procurement.models import ContributionEntry
        from shop.accounts.tokens import create_access_token

        call_command("migrate", interactive=False, verbosity=0)
        load_before = os.getloadavg()[0]
        if args.database_url:
            size = ContributionEntry.objects.count()
            result = {"size": size, "generate": None, "steps": {}, "load": [load_before] * 2}
            print(f"  {size:,} entries already in {url}", flush=True)
        else:
            cpu = _cpu()
            started = time.perf_counter()
            timings = generate_ledger.generate(size, workers=args.workers, quiet=True)
            generated = time.perf_counter() - started
            result = {
                "size": size,
                "generate": generated,
                # this process only; the workers' and PostgreSQL's not
                "generate_cpu": _cpu() - cpu,
                "steps": timings,
                "load": [load_before, os.getloadavg()[0]],
            }
            print(
                f"  generated {size:,} in {generated:.0f} s (load {load_before:.1f} → "
                f"{os.getloadavg()[0]:.1f}): "
                + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()),
                flush=True,
            )
        if size <= args.verify_up_to:
            load = os.getloadavg()[0]
            started = time.perf_counter()
            verified = ledger.verify()
            result["verify"] = {
                "ok": verified.ok,
                "seconds": time.perf_counter() - started,
                "load": load,
                "problem": verified.problem,
            }
            started = time.perf_counter()
            _expected, _booked, differences = ledger.reconcile()
            result["reconcile"] = {
                "differences": len(differences),
                "seconds": time.perf_counter() - started,
            }
            print(f"  verify {result['verify']}, reconcile {result['reconcile']}", flush=True)
        user = ledger_reports.auditor()
        token = create_access_token(user)
        result["latency"] = reports(token, user, args.calls, size)
        connections["default"].close()
        query = export_slice(size)
        result["exports"] = {}
        for extension in args.exports:
            data = export(env, workdir, token, extension, query, args.server)
            result["exports"][extension] = data
            print(f"  export {extension}{query}: {_export_line(data)}", flush=True)
        return result
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _export_line(e: dict) -> str:
    low, median, high = e["rate_mib_s"]
    b, a = e["before"], e["after"]
    return (
        f"HTTP {e['status']}, {e['bytes'] / 2**20:,.1f} MiB in {e['seconds']:.0f} s, first byte "
        f"{e['first_byte']:.2f} s, MiB/s per 5 s min/median/max {low:.2f}/{median:.2f}/{high:.2f}; "
        f"worker CPU {e['worker_cpu']:.0f} s; worker VmHWM {b['hwm']:.1f} → {a['hwm']:.1f} MiB, "
        f"RSS {b['rss']:.1f} → {a['rss']:.1f}, PSS {b['pss']:.1f} → {a['pss']:.1f}, USS "
        f"{b['uss']:.1f} → {a['uss']:.1f} MiB; load {e['load'][0]:.1f} → {e['load'][1]:.1f}"
    )


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    # Wall p95 follows the machine's load (shared); CPU per call does much less: both are drawn.
    figure, (left, middle, right) = pyplot.subplots(1, 3, figsize=(19, 6))

    def series(pick) -> tuple[list, list]:
        """(sizes, values) of the runs that measured it."""
        points = [(r["size"], pick(r)) for r in results if pick(r) is not None]
        return [x for x, _ in points], [y for _, y in points]

    names = dict.fromkeys(name for r in results for name in r["latency"])
    for name in names:
        xs, ys = series(lambda r, n=name: r["latency"].get(n, {}).get("summary", {}).get("p95"))
        left.plot(xs, ys, "o-", label=name)
        if xs:  # the p95 at the largest size, so the lines can be told apart
            left.annotate(f"{ys[-1]:.0f}", (xs[-1], ys[-1]), fontsize=6)
    left.axhline(50, color="grey", linestyle="--", label="goal 50 ms")
    left.axhline(300, color="grey", linestyle=":", label="dashboard goal 300 ms")
    left.set(xscale="log", yscale="log", xlabel="ledger entries", ylabel="p95 ms (in-process)")
    loads = ", ".join(f"{r['size'] / 1e6:g}M: load {r['load'][0]:.0f}" for r in results)
    left.set_title(f"Reports: p95 against ledger size\n({loads})", fontsize=9)
    left.legend(fontsize=6)
    for name in names:
        xs, ys = series(
            lambda r, n=name: (
                r["latency"][n]["cpu_ms"] + r["latency"][n].get("db_cpu_ms", 0)
                if n in r["latency"]
                else None
            )
        )
        middle.plot(xs, ys, "o-", label=name)
    middle.set(xscale="log", yscale="log", xlabel="ledger entries")
    middle.set(ylabel="CPU ms per call: app + its PostgreSQL backend")
    middle.set_title("Reports: CPU per call against ledger size (less load-bound)", fontsize=9)
    middle.legend(fontsize=6)
    drawn = False
    for extension in dict.fromkeys(e for r in results for e in r["exports"]):
        xs, ys = series(lambda r, e=extension: r["exports"].get(e, {}).get("seconds"))
        right.plot(xs, ys, "o-", label=f"{extension} export of 1M rows, s")
        drawn = drawn or bool(xs)
    xs, ys = series(lambda r: r.get("generate"))
    right.plot(xs, ys, "s-", label="generation, s")
    if drawn or xs:  # a log axis of nothing cannot be drawn
        right.set(xscale="log", yscale="log")
    right.set(xlabel="ledger entries", ylabel="seconds")
    right.set_title("Export (1M rows) and generation time against size", fontsize=9)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--exports", nargs="*", default=["csv", "xlsx"], choices=["csv", "xlsx"])
    parser.add_argument("--server", choices=["plain", "production"], default="production")
    parser.add_argument("--verify-up-to", type=int, default=1_000_000, help="verify up to N")
    parser.add_argument("--png", default=str(common.PROJECT_ROOT / "bench" / "ledger_scale.png"))
    parser.add_argument("--json-out", help="also write every figure to this JSON file")
    parser.add_argument(
        "--replot",
        nargs="+",
        metavar="JSON",
        help="only draw the PNG from earlier --json-out files",
    )
    parser.add_argument(
        "--database-url",
        nargs="+",
        default=[],
        help="measure these already generated ledgers (one size each) instead of generating",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a child
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    if args.one:
        args.database_url = args.database_url[0] if args.database_url else None
        Path(args.json).write_text(json.dumps(measure(args.one, args)))
        return 0
    if args.replot:
        results = [r for path in args.replot for r in json.loads(Path(path).read_text())]
        plot(sorted(results, key=lambda r: r["size"]), Path(args.png))
        return 0
    print(f"Ledger at scale, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {common.machine_summary()}")
    results = []
    runs = [(0, url) for url in args.database_url] or [(size, None) for size in sorted(args.sizes)]
    for size, url in runs:
        print(f"\n{url or f'{size:,} entries'}", flush=True)
        # Each size in its own process: Django is set up once per process, on one database.
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(  # noqa: S603 - our own module, our own arguments
                [
                    sys.executable,
                    "-m",
                    "bench.ledger_scale",
                    "--one",
                    str(size or 1),
                    *(["--database-url", url] if url else []),
                    "--json",
                    out.name,
                    "--calls",
                    str(args.calls),
                    "--workers",
                    str(args.workers),
                    "--server",
                    args.server,
                    "--verify-up-to",
                    str(args.verify_up_to),
                    "--exports",
                    *args.exports,
                ],
                check=True,
                cwd=common.PROJECT_ROOT,
            )
            results.append(json.loads(Path(out.name).read_text()))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(results, indent=1))
        try:
            plot(sorted(results, key=lambda r: r["size"]), Path(args.png))
        except ImportError:
            print("  (no plot: install the bench extra for matplotlib)")
    print(f"\nPlot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
