"""Export memory and rate on a ledger generated earlier (issue 15 item 4).

    .venv/bin/python -m bench.generate_ledger --database-url URL --entries 1000000   # once
    .venv/bin/python -m bench.export_memory --database-url URL [--exports csv xlsx] [--rounds 1]

`/exports/contributions.csv` and `.xlsx` of the whole ledger, each from a fresh
`gunicorn -c gunicorn.conf.py` worker (production settings: the master's warm-up, gthread),
measured the way bench/ledger_scale.py measures them (its `export`): the worker's VmHWM (peak
RSS) and RSS/PSS/USS before and after from /proc, its CPU time, the time to the first byte and
the download rate per 5-second window, with the load average. Only the exports: no generation,
no reports, so one kept PostgreSQL serves many runs (`--rounds` alternates the formats).
Figures are printed, never asserted.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import common, ledger_reports, ledger_scale

SIGNING_KEY = "c2hhbmhhaS1sZWRnZXItc2NhbGUtYmVuY2gta2V5ISE="


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-export-memory-"))
    try:
        env = common.production_env(
            args.database_url, MEDIA_ROOT=str(workdir), LEDGER_SIGNING_KEY=SIGNING_KEY
        )
        common.setup_django(env)
        from django.db import connections

        from procurement.models import ContributionEntry
        from shop.accounts.tokens import create_access_token

        rows = ContributionEntry.objects.count()
        token = create_access_token(ledger_reports.auditor())
        connections.close_all()
        print(f"{rows:,} ledger entries; load average {os.getloadavg()}", flush=True)
        for _round in range(args.rounds):
            for extension in args.exports:
                data = ledger_scale.export(env, workdir, token, extension, "", "production")
                print(f"{extension}: {ledger_scale._export_line(data)}", flush=True)
        return 0
    finally:
        common.tear_down(None, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL with a ledger")
    parser.add_argument("--exports", nargs="+", default=["csv", "xlsx"], choices=["csv", "xlsx"])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    return common.run_until_interrupted(run, args)


if __name__ == "__main__":
    sys.exit(main())
