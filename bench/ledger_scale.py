"""How the ledger's reports and exports cost as the ledger grows (issue 15 item 5).

    .venv/bin/python -m bench.ledger_scale [--sizes 1000000 3000000 10000000] [--calls 50]

For each size: a throw-away PostgreSQL, migrated, filled by bench/generate_ledger.py; then
`--calls` in-process calls (django.test.Client → /graphql/, auditor token, after 5 warm-up calls)
of each report query, the `contributions` first page and a deep page (a keyset cursor in the
middle of the ledger), and the full CSV and XLSX exports from a fresh one-worker gunicorn, whose
peak RSS (VmHWM) is read on the worker before and after. The load average is printed with
every size, and a PNG of p95 / export seconds against size is written (matplotlib, the bench
extra). Figures are printed, never asserted.
"""

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common, ledger_reports

SUMMARY = """total { amount } entryCount rows { keys { dimension value label } total { amount }
        entryCount }"""


def summary(group_by: str) -> str:
    return f"query {{ contributionSummary(groupBy: [{group_by}]) {{ {SUMMARY} }} }}"


QUERIES = {
    "targetProgress": ledger_reports.QUERIES["targetProgress"],
    "summary CITY": summary("CITY"),
    "summary YEAR": summary("YEAR"),
    "summary CITY+CATEGORY": (summary("CITY, CATEGORY")),
    "summary AGENCY+SUPPLIER": (summary("AGENCY, SUPPLIER")),
    "contributions first page": (
        "query { contributions(first: 50) { edges { node { id amount { amount } businessDate } }"
        " pageInfo { endCursor hasNextPage } } }"
    ),
}
KEYSET_SCOPE = "Query.contributions:-position,pk"  # shop.core.graphql.connection._scope


def deep_page_query(entries: int) -> str:
    from shop.core.graphql.ids import encode_cursor

    middle = entries // 2
    cursor = encode_cursor(KEYSET_SCOPE, [middle, middle])
    return (
        f'query {{ contributions(first: 50, after: "{cursor}") {{ edges {{ node {{ id '
        "amount { amount } businessDate } } pageInfo { endCursor hasNextPage } } }"
    )


def measure(size: int, calls: int, exports: list[str], workers: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-ledger-scale-"))
    key = "c2hhbmhhaS1sZWRnZXItc2NhbGUtYmVuY2gta2V5ISE="
    postgres = common.ThrowAwayPostgres().start()
    try:
        env = common.production_env(postgres.url, MEDIA_ROOT=str(workdir), LEDGER_SIGNING_KEY=key)
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connections

        from bench import generate_ledger
        from shop.accounts.tokens import create_access_token

        call_command("migrate", interactive=False, verbosity=0)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        timings = generate_ledger.generate(size, workers=workers, quiet=True)
        generated = time.perf_counter() - started
        token = create_access_token(ledger_reports.auditor())
        ledger_reports.QUERIES = {**QUERIES, "contributions deep page": deep_page_query(size)}
        ledger_reports_calls = ledger_reports.in_process(token, calls)
        connections["default"].close()
        exported = {
            extension: ledger_reports.export_memory(env, workdir, token, extension)
            for extension in exports
        }
        return {
            "size": size,
            "generate": generated,
            "steps": timings,
            "latency": {
                name: dataclasses.asdict(data["summary"])
                for name, data in ledger_reports_calls.items()
            },
            "exports": exported,
            "load": (load_before, os.getloadavg()[0]),
        }
    finally:
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = [r["size"] for r in results]
    figure, (reports, exports) = pyplot.subplots(1, 2, figsize=(12, 5))
    for name in results[0]["latency"]:
        reports.plot(sizes, [r["latency"][name]["p95"] for r in results], marker="o", label=name)
    reports.axhline(50, color="grey", linestyle="--", label="goal 50 ms")
    reports.set(xscale="log", xlabel="ledger entries", ylabel="p95 ms (in-process)")
    reports.set_title("Reports: p95 against ledger size")
    reports.legend(fontsize=7)
    for extension in results[0]["exports"]:
        exports.plot(
            sizes,
            [r["exports"][extension]["seconds"] for r in results],
            marker="o",
            label=f"{extension} export, s",
        )
    exports.plot(sizes, [r["generate"] for r in results], marker="s", label="generation, s")
    exports.set(xscale="log", yscale="log", xlabel="ledger entries", ylabel="seconds")
    exports.set_title("Export and generation time against size")
    exports.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def report(result: dict) -> None:
    size = result["size"]
    print(f"\n{size:,} entries — load average {result['load'][0]:.1f} → {result['load'][1]:.1f}")
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result["steps"].items())
    print(f"  generated in {result['generate']:.0f} s ({steps})")
    for name, summary in result["latency"].items():
        print(f"  {name:26} {common.LatencySummary(**summary).line()}")
    for extension, e in result["exports"].items():
        print(
            f"  export {extension}: HTTP {e['status']}, {e['bytes'] / 2**20:,.1f} MiB in "
            f"{e['seconds']:.0f} s ({e['bytes'] / 2**20 / max(e['seconds'], 1e-9):.1f} MiB/s); "
            f"worker VmHWM {e['hwm_before']:.1f} → {e['hwm_after']:.1f} MiB"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--exports", nargs="*", default=["csv", "xlsx"], choices=["csv", "xlsx"])
    parser.add_argument("--png", default=str(common.PROJECT_ROOT / "bench" / "ledger-scale.png"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a child
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    if args.one:
        result = measure(args.one, args.calls, args.exports, args.workers)
        Path(args.json).write_text(json.dumps(result))
        return 0
    print(f"Ledger at scale, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {common.machine_summary()}")
    results = []
    for size in sorted(args.sizes):
        # Each size in its own process: Django is set up once per process, on one database.
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(  # noqa: S603 - our own module, our own arguments
                [
                    sys.executable,
                    "-m",
                    "bench.ledger_scale",
                    "--one",
                    str(size),
                    "--json",
                    out.name,
                    "--calls",
                    str(args.calls),
                    "--workers",
                    str(args.workers),
                    "--exports",
                    *args.exports,
                ],
                check=True,
                cwd=common.PROJECT_ROOT,
            )
            results.append(json.loads(Path(out.name).read_text()))
        report(results[-1])
        plot(results, Path(args.png))
    print(f"\nPlot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
