"""Worker memory with and without the master's warm-up of the search dictionaries (issue 12).

    .venv/bin/python -m bench.worker_memory [--products 2000] [--rounds 2] [--requests 400]

A throw-away PostgreSQL with the catalog dataset and the database search table, then, alternating
GUNICORN_PRELOAD=false / true (`--rounds` times each, so both see the same machine load),
`gunicorn -c gunicorn.conf.py shop.wsgi --workers 4` with production settings and the response
cache off. Each server gets `--requests` `search` queries (the judged set's texts, shuffled) from
4 concurrent clients, so every worker segments text; then each worker's memory is read from
/proc/<pid>/smaps_rollup:

- RSS: resident pages, shared ones included: a page shared by the 4 workers and the master
  counts in each, so RSS overstates what a worker costs once pages are shared;
- PSS: each shared page divided by the number of processes sharing it (the sum over processes is
  the real total);
- USS: Private_Clean + Private_Dirty, what the worker alone holds (freed if it exits);

and the peak RSS (VmHWM). The master is listed too: with the warm-up it holds the shared copy.
Figures are printed, never asserted; the load average is printed with them (a shared machine).
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.read_path import concurrent

SEARCH = """query ($q: String!) {
  search(query: $q, first: 20) { totalCount edges { node { name } } } }"""
WORKERS = 4


def measure(env: dict, workdir: Path, preload: bool, texts: list[str], clients: int) -> dict:
    server_env = dict(env, GUNICORN_PRELOAD="true" if preload else "false")
    server = common.GunicornServer(
        env=server_env,
        workdir=workdir,
        workers=WORKERS,
        extra_args=["-c", str(common.PROJECT_ROOT / "gunicorn.conf.py")],
    )
    with server:
        time.sleep(1)
        master = server.process.pid
        workers = sorted(server.worker_pids())
        idle = {pid: common.proc_memory_mib(pid) for pid in workers}
        cpu_before = {pid: common.proc_cpu_seconds(pid) or 0.0 for pid in workers}
        load = os.getloadavg()[0]
        requests = [(SEARCH, {"q": text}) for text in texts]
        summary = concurrent(server.port, "search", requests, clients)
        count = summary.count
        busy = {pid: common.proc_memory_mib(pid) for pid in workers}
        cpu = {pid: (common.proc_cpu_seconds(pid) or 0.0) - cpu_before[pid] for pid in workers}
        return {
            "preload": preload,
            "load": load,
            "summary": summary,
            "count": count,
            "clients": clients,
            "master": common.proc_memory_mib(master),
            "idle": idle,
            "busy": busy,
            "cpu": cpu,
        }


def report(result: dict) -> None:
    label = "preload on " if result["preload"] else "preload off"
    s = result["summary"]
    print(
        f"\n{label}: load {result['load']:.2f}; {result['count']} searches at concurrency "
        f"{result['clients']}: "
        f"p50 {s.p50:.1f} ms  p95 {s.p95:.1f} ms  {s.per_second:.1f} req/s"
    )
    print(
        "  process      idle RSS/PSS/USS MiB     after searches RSS/PSS/USS MiB   peak RSS  CPU s"
    )
    m = result["master"]
    print(
        f"  master       {'':27}  {m['rss']:6.1f} {m['pss']:6.1f} {m['uss']:6.1f}"
        f"      {m['hwm']:6.1f}"
    )
    totals = {"pss": 0.0, "uss": 0.0}
    for pid, busy in result["busy"].items():
        idle = result["idle"][pid]
        totals["pss"] += busy["pss"]
        totals["uss"] += busy["uss"]
        print(
            f"  worker {pid:<6}{idle['rss']:6.1f} {idle['pss']:6.1f} {idle['uss']:6.1f}"
            f"            {busy['rss']:6.1f} {busy['pss']:6.1f} {busy['uss']:6.1f}"
            f"      {busy['hwm']:6.1f}  {result['cpu'][pid]:.1f}"
        )
    print(
        f"  4 workers + master: PSS {totals['pss'] + m['pss']:.1f} MiB "
        f"(workers' USS {totals['uss']:.1f} MiB)"
    )


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-memory-"))
    postgres = None
    try:
        print(f"load average at start: {os.getloadavg()}  ({common.machine_summary()})")
        url, postgres = common.database(None)
        env = common.production_env(
            url,
            MEDIA_ROOT=str(workdir),
            SEARCH_BACKEND="",
            GRAPHQL_RESPONSE_CACHE="false",  # every search is computed
            GUNICORN_WORKERS=str(WORKERS),
        )
        env.pop("ELASTICSEARCH_URL", None)
        common.setup_and_migrate(
            env, "Migrating, generating the catalog, building the search table …"
        )
        from django.db import connection

        from bench import catalog_dataset
        from search.backends.database import DatabaseSearchBackend
        from search.relevance import JUDGED

        catalog_dataset.generate(products=args.products)
        DatabaseSearchBackend().rebuild()
        connection.close()

        rng = random.Random(args.seed)
        queries = [item.query for item in JUDGED]
        texts = [queries[i % len(queries)] for i in range(args.requests)]
        rng.shuffle(texts)
        for _round in range(args.rounds):
            for preload in (False, True):
                report(measure(env, workdir, preload, texts, args.clients))
        print(f"\nload average at the end: {os.getloadavg()}")
        return 0
    finally:
        common.tear_down(postgres, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    return common.run_until_interrupted(run, args)


if __name__ == "__main__":
    sys.exit(main())
