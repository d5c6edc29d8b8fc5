"""Transparency-log benchmark (issue 14): booking throughput with concurrent bookers, checkpoint
time (first and incremental), proof times, and the offline verifier over an export.

    .venv/bin/python -m bench.ledger_transparency [--entries 200000] [--bookers 8]
        [--booker-transactions 300] [--entries-per-booking 3] [--increment 20000]

1. Data: a throw-away PostgreSQL (bench/common.py), migrated, the bench catalog and agencies of
   bench/ledger_reports.py, then `--entries` entries booked through `ledger.append` in batches
   (bench/ledger_reports.book: positions, leaf hashes and rollups exactly as the services do;
   with `--fast-fill` without the rollup upserts, which bound that fill's rate).
2. The first checkpoint over all of them (`store.checkpoint()`: sequencing, stored subtrees,
   signing), then `--increment` more entries and the incremental checkpoint.
3. Booking throughput: `--bookers` processes (own connections; processes, not threads, so the
   GIL does not serialise them), each committing `--booker-transactions` transactions of
   `--entries-per-booking` entries dated today (as live bookings are: they share the month's
   rollup cells). Entries/s = all entries ÷ wall time from the first start to the last commit.
   Run twice: with the rollup upserts, as the services book, and without them (the log's own
   cost: positions, leaf hashes, inserts).
   Then a checkpoint, and the tree must hold every entry once (leaves 0..n-1) and verify.
4. Proofs: 500 inclusion proofs (random leaf, latest size) and 500 consistency proofs (random
   old size), service level (`store.inclusion_proof` / `consistency_proof`: the SQL fetch of
   the stored hashes and the folding), median and p95.
5. The offline verifier: the tree exported as JSON lines (`transparency.tree_lines`) to a file,
   then `python -m procurement.transparency.verifier` in a fresh process pinned to one core
   (`taskset -c 0` when available), wall time and peak RSS (its VmHWM, polled every 50 ms).

Figures are printed, never asserted. Everything it started is stopped and removed on exit.
"""

import argparse
import base64
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common, ledger_reports


def booker(args: tuple) -> tuple[float, float, int]:
    """One booking process: returns (start, end, entries booked)."""
    number, env, transactions, per_booking, *rest = args
    common.setup_django(env)
    from django.db import transaction
    from django.utils import timezone

    from procurement import ledger
    from procurement.models import ContributionImport
    from procurement.reports import rollups

    if rest and not rest[0]:
        rollups.add = lambda entries: None  # the log's own cost, without the rollup upserts
    start_at = rest[1] if len(rest) > 1 else 0.0

    rng = random.Random(number)
    agencies = ledger_reports.make_agencies()
    products = ledger_reports.products_by_supplier()
    user = ledger_reports.auditor()
    batch_row = ContributionImport.objects.order_by("pk").first()
    today = timezone.localdate()
    seed = f"booker{number}"
    # Every booker starts at the same moment, after its set-up, so they really overlap.
    time.sleep(max(start_at - time.time(), 0))
    started = time.time()
    booked = 0
    for t in range(transactions):
        entries = [
            ledger_reports.synthetic_entry(
                rng, t * per_booking + k, today, seed, agencies, products, batch_row, user
            )
            for k in range(per_booking)
        ]
        with transaction.atomic():
            ledger.append(entries)
        booked += len(entries)
    return started, time.time(), booked


def concurrent_bookings(args, env, with_rollups: bool) -> dict:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 15  # after every process has set Django up
    with context.Pool(args.bookers) as pool:
        outcomes = pool.map(
            booker,
            [
                (
                    n + (0 if with_rollups else 1000),
                    env,
                    args.booker_transactions,
                    args.entries_per_booking,
                    with_rollups,
                    start_at,
                )
                for n in range(args.bookers)
            ],
        )
    wall = max(end for _, end, _ in outcomes) - min(start for start, _, _ in outcomes)
    booked = sum(n for _, _, n in outcomes)
    print(f"  {booked:,} entries in {wall:.1f} s: {booked / wall:,.0f} entries/s", flush=True)
    return {"entries": booked, "wall": wall, "per_s": booked / wall}


def percentiles(values: list[float]) -> str:
    return (
        f"median {common.percentile(values, 50) * 1000:.2f} ms, "
        f"p95 {common.percentile(values, 95) * 1000:.2f} ms, max {max(values) * 1000:.2f} ms"
    )


def timed_checkpoint(label: str) -> tuple[float, int]:
    from procurement.transparency import store

    started = time.perf_counter()
    made = store.checkpoint()
    seconds = time.perf_counter() - started
    print(f"  {label}: tree {made.tree_size:,} in {seconds:.2f} s", flush=True)
    return seconds, made.tree_size


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-tlog-"))
    postgres = None
    results: dict = {"args": vars(args)}
    try:
        print("Starting a throw-away PostgreSQL …", flush=True)
        postgres = common.ThrowAwayPostgres()
        postgres.start()
        key = base64.b64encode(os.urandom(32)).decode()
        env = common.production_env(postgres.url, MEDIA_ROOT=str(workdir), LEDGER_SIGNING_KEY=key)
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connection, connections

        from bench import catalog_dataset
        from procurement import ledger
        from procurement.models import LedgerCheckpoint, LedgerTreeNode
        from procurement.services import transparency
        from procurement.transparency import store

        print("Migrating and generating the catalog …", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        catalog_dataset.generate(products=200, suppliers=ledger_reports.SUPPLIERS)
        print(f"Booking {args.entries:,} entries in batches …", flush=True)
        from procurement.reports import rollups

        real_add = rollups.add
        if args.fast_fill:
            # The data only: positions and leaf hashes as booked, rollups left out (say so).
            rollups.add = lambda entries: None
        timings = ledger_reports.book(args.entries, 1000, seed=1)
        rollups.add = real_add
        results["bulk_booking_per_s"] = args.entries / timings["wall"]
        results["bulk_fill_without_rollups"] = args.fast_fill

        print("Checkpoints …", flush=True)
        results["first_checkpoint"] = timed_checkpoint("first checkpoint (all entries)")
        rollups.add = (lambda entries: None) if args.fast_fill else real_add
        ledger_reports.book(args.increment, 1000, seed=2)
        rollups.add = real_add
        results["incremental_checkpoint"] = timed_checkpoint(
            f"incremental checkpoint (+{args.increment:,})"
        )
        results["empty_checkpoint"] = timed_checkpoint("checkpoint with nothing new")

        connections.close_all()
        for with_rollups in (True, False):
            label = "with rollups" if with_rollups else "without rollups"
            print(f"{args.bookers} concurrent bookers, {label} …", flush=True)
            results[f"concurrent {label}"] = concurrent_bookings(args, env, with_rollups)
        seconds, size = timed_checkpoint("checkpoint after the concurrent bookings")
        leaves = LedgerTreeNode.objects.filter(level=0)
        linear = leaves.count() == size and leaves.order_by("-index")[0].index == size - 1
        started = time.perf_counter()
        verified = ledger.verify()
        results["verify"] = {
            "ok": verified.ok,
            "problem": verified.problem,
            "seconds": time.perf_counter() - started,
        }
        results["linear"] = linear
        print(
            f"  tree linear: {linear}; ledgerVerify ok: {verified.ok} "
            f"({results['verify']['seconds']:.1f} s)",
            flush=True,
        )

        print("Proofs …", flush=True)
        rng = random.Random(3)
        inclusion, consistency = [], []
        for _ in range(500):
            index = rng.randrange(size)
            started = time.perf_counter()
            store.inclusion_proof(index, size)
            inclusion.append(time.perf_counter() - started)
            old = rng.randrange(1, size)
            started = time.perf_counter()
            store.consistency_proof(old, size)
            consistency.append(time.perf_counter() - started)
        results["inclusion"] = percentiles(inclusion)
        results["consistency"] = percentiles(consistency)
        print(f"  inclusion: {results['inclusion']}\n  consistency: {results['consistency']}")

        print("Export and offline verifier …", flush=True)
        export = workdir / "ledger.jsonl"
        started = time.perf_counter()
        with export.open("w", encoding="utf-8") as out:
            out.writelines(transparency.tree_lines(size))
        results["export_seconds"] = time.perf_counter() - started
        checkpoints = [store.as_signed(c).to_json() for c in LedgerCheckpoint.objects.all()]
        (workdir / "checkpoints.json").write_text(json.dumps(checkpoints))
        public = store.signing.public_key_text()
        connection.close()
        command = [
            sys.executable,
            "-m",
            "procurement.transparency.verifier",
            str(export),
            "--checkpoints",
            str(workdir / "checkpoints.json"),
            "--public-key",
            public,
        ]
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        peak_kib = 0
        while process.poll() is None:
            # The pool's workers were children too, so getrusage would report their peak.
            peak_kib = max(peak_kib, common.proc_status_kib(process.pid, "VmHWM") or 0)
            time.sleep(0.05)
        verifier_seconds = time.perf_counter() - started
        stdout, stderr = process.communicate()
        done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        results["verifier"] = {
            "entries": size,
            "seconds": verifier_seconds,
            "peak_rss_mib": peak_kib / 1024,
            "status": done.returncode,
            "export_mib": export.stat().st_size / 2**20,
        }
        print(
            f"  verifier: {size:,} entries in {verifier_seconds:.1f} s, peak RSS "
            f"{peak_kib / 1024:.0f} MiB, exit {done.returncode}",
            flush=True,
        )
        if done.returncode:
            print(done.stdout[-2000:], done.stderr[-2000:])
        results["machine"] = common.machine_summary()
        results["date"] = datetime.now(UTC).date().isoformat()
        print(json.dumps(results, indent=2, default=str))
        return 0
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--increment", type=int, default=20_000)
    parser.add_argument("--bookers", type=int, default=8)
    parser.add_argument("--booker-transactions", type=int, default=300)
    parser.add_argument("--entries-per-booking", type=int, default=3)
    parser.add_argument(
        "--fast-fill",
        action="store_true",
        help="fill the ledger without rollups (their upserts bound the fill's rate); the "
        "concurrent bookings still maintain them, and ledgerVerify then reports the rollups",
    )
    common.exit_on_sigterm()
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
