"""Transparency-log benchmark (issue 14): booking throughput with concurrent bookers, checkpoint
time (first and incremental), proof times, and the offline verifier over an export.

    .venv/bin/python -m bench.ledger_transparency [--entries 200000] [--bookers 8]
        [--booker-transactions 300] [--entries-per-booking 3] [--increments 1000,10000,50000]
        [--fold-every 10]

1. Data: a throw-away PostgreSQL (bench/common.py), migrated, the bench catalog and agencies of
   bench/ledger_reports.py, then `--entries` entries booked through `ledger.append` in batches
   (bench/ledger_reports.book: positions, leaf hashes and pending rollup rows exactly as the
   services do, folded every ten batches as the worker's job would).
2. The first checkpoint over all of them (`store.checkpoint()`: sequencing, stored subtrees,
   signing), then for each of `--increments` that many more entries and an incremental
   checkpoint (its cost against the entries since the previous one).
3. Booking throughput: `--bookers` processes (own connections; processes, not threads, so the
   GIL does not serialise them), each committing `--booker-transactions` transactions of
   `--entries-per-booking` entries dated today (as live bookings are: they share the month's
   rollup cells). Entries/s = all entries ÷ wall time from the first start to the last commit,
   with the bookers' CPU seconds and PostgreSQL's (its postmaster's process tree) beside it.
   A rollup rebuild first (timed), then the bookings on the real path: pending rows, and a
   further process running the fold every `--fold-every` seconds while they book (and once
   after), as the worker does. (A booking is one statement on PostgreSQL that writes the
   entries and their pending rows together, so there is no "log alone" run: the
   booking-only figures, CPU per entry split three ways, are bench/ledger_booking.py's.)
   Then a checkpoint, and the tree must hold every entry once (leaves 0..n-1) and verify
   (the rollups included).
4. Proofs: 500 inclusion proofs (random leaf, latest size) and 500 consistency proofs (random
   old size), service level (`store.inclusion_proof` / `consistency_proof`: the SQL fetch of
   the stored hashes and the folding), median and p95.
5. The offline verifier: the tree exported as JSON lines (`transparency.tree_lines`) to a file,
   then `python -m procurement.transparency.verifier` in a fresh process pinned to one core
   (`taskset -c 0` when available), wall time and peak RSS (its VmHWM, polled every 50 ms).

The 1-minute load average is printed beside each throughput figure: the machine is shared.
Figures are printed, never asserted. Everything it started is stopped and removed on exit.
"""

import argparse
import base64
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import common, ledger_reports
from bench.ledger_verifier_scale import run_verifier


def booker(args: tuple) -> tuple[float, float, int, float]:
    """One booking process: returns (start, end, entries booked, its CPU seconds)."""
    number, env, transactions, per_booking, start_at = args
    common.setup_django(env)
    from django.db import transaction
    from django.utils import timezone

    from procurement import ledger
    from procurement.models import ContributionImport

    rng = random.Random(number)
    agencies = ledger_reports.make_agencies()
    products = ledger_reports.products_by_supplier()
    user = ledger_reports.auditor()
    batch_row = ContributionImport.objects.order_by("pk").first()
    today = timezone.localdate()
    seed = f"booker{number}"
    # Every booker starts at the same moment, after its set-up, so they really overlap.
    time.sleep(max(start_at - time.time(), 0))
    started, cpu = time.time(), time.process_time()
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
    return started, time.time(), booked, time.process_time() - cpu


def folder(env, every: float, start_at: float, stop) -> list[tuple[float, int, float, float]]:
    """The worker's fold job, run every `every` seconds while the bookers book (and once more
    after they stop): (started, entries folded, wall seconds, CPU seconds of this process)."""
    common.setup_django(env)
    from procurement.reports import rollups

    folds = []
    time.sleep(max(start_at - time.time(), 0))
    while True:
        finished = stop.is_set()
        started, cpu = time.perf_counter(), time.process_time()
        folded = rollups.fold()
        folds.append(
            (time.time(), folded, time.perf_counter() - started, time.process_time() - cpu)
        )
        if finished:
            return folds
        stop.wait(every)


def concurrent_bookings(args, env, postmaster: int | None) -> dict:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 15  # after every process has set Django up
    load_before = os.getloadavg()[0]
    database_cpu = common.process_tree_cpu_seconds(postmaster) if postmaster else 0.0
    with context.Manager() as manager, context.Pool(args.bookers + 1) as pool:
        stop = manager.Event()
        folds = pool.apply_async(folder, (env, args.fold_every, start_at, stop))
        outcomes = pool.map(
            booker,
            [
                (
                    n,
                    env,
                    args.booker_transactions,
                    args.entries_per_booking,
                    start_at,
                )
                for n in range(args.bookers)
            ],
        )
        stop.set()
        fold_runs = folds.get()
    load_after = os.getloadavg()[0]
    # The pool's connections are closed: their backends' CPU is the postmaster's children's.
    if postmaster:
        database_cpu = common.process_tree_cpu_seconds(postmaster) - database_cpu
    wall = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    booked = sum(o[2] for o in outcomes)
    booker_cpu = sum(o[3] for o in outcomes)
    result = {
        "entries": booked,
        "wall": wall,
        "per_s": booked / wall,
        "booker_cpu_seconds": booker_cpu,
        "database_cpu_seconds": database_cpu,
        "load_1min_before_after": (load_before, load_after),
    }
    print(
        f"  {booked:,} entries in {wall:.1f} s: {booked / wall:,.0f} entries/s; CPU: bookers "
        f"{booker_cpu:.1f} s, PostgreSQL {database_cpu:.1f} s "
        f"(load {load_before:.1f} → {load_after:.1f})",
        flush=True,
    )
    if fold_runs:
        during = fold_runs[:-1]
        last = fold_runs[-1]
        result["folds"] = {
            "runs_during": len(during),
            "entries_during": sum(f[1] for f in during),
            "seconds_during": sum(f[2] for f in during),
            "max_seconds": max((f[2] for f in during), default=0.0),
            "cpu_seconds_during": sum(f[3] for f in during),
            "final_entries": last[1],
            "final_seconds": last[2],
        }
        folded = sum(f[1] for f in fold_runs)
        print(
            f"  folds every {args.fold_every:g} s while booking: {len(during)} runs, "
            f"{result['folds']['entries_during']:,} entries in "
            f"{result['folds']['seconds_during']:.1f} s "
            f"(longest {result['folds']['max_seconds']:.2f} s); "
            f"after the last booking {last[1]:,} in {last[2]:.2f} s; "
            f"folded {folded:,} of {booked:,}",
            flush=True,
        )
    return result


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
        url, postgres = common.database(None)
        key = base64.b64encode(os.urandom(32)).decode()
        env = common.production_env(url, MEDIA_ROOT=str(workdir), LEDGER_SIGNING_KEY=key)
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

        load = os.getloadavg()[0]
        timings = ledger_reports.book(args.entries, 1000, seed=1)
        results["bulk_booking"] = {
            "per_s": args.entries / timings["wall"],
            "fold_seconds": timings["rollups"],
            "load_1min": (load, os.getloadavg()[0]),
        }

        print("Checkpoints …", flush=True)
        results["first_checkpoint"] = timed_checkpoint("first checkpoint (all entries)")
        results["incremental_checkpoints"] = []
        for n, increment in enumerate(args.increments):
            ledger_reports.book(increment, 1000, seed=2 + n)
            seconds, size = timed_checkpoint(f"incremental checkpoint (+{increment:,})")
            results["incremental_checkpoints"].append((increment, size, seconds))
            print(f"    {seconds / increment * 1e6:.0f} µs per new entry", flush=True)
        results["empty_checkpoint"] = timed_checkpoint("checkpoint with nothing new")

        connections.close_all()
        postmaster = postgres.postmaster_pid()
        # The rebuild timed, then the real path (pending rows, the fold job running).
        started, load = time.perf_counter(), os.getloadavg()[0]
        rebuilt = rollups.rebuild()
        results["rebuild"] = {"entries": rebuilt, "seconds": time.perf_counter() - started}
        print(
            f"  rollups rebuilt over {rebuilt:,} entries in {results['rebuild']['seconds']:.1f} s "
            f"(load {load:.1f})",
            flush=True,
        )
        connections.close_all()
        print(
            f"{args.bookers} concurrent bookers, with rollups (fold every {args.fold_every:g} s) …",
            flush=True,
        )
        results["concurrent with rollups"] = concurrent_bookings(args, env, postmaster)
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
        public = store.signing.public_key_text()
        connection.close()
        run = run_verifier(export, checkpoints, public, workdir)
        results["verifier"] = {
            "entries": size,
            "seconds": run.seconds,
            "cpu_seconds": run.cpu,
            "peak_rss_mib": run.peak_kib / 1024,
            "status": run.returncode,
            "export_mib": export.stat().st_size / 2**20,
        }
        print(
            f"  verifier: {size:,} entries in {run.seconds:.1f} s ({run.cpu:.1f} s CPU), peak RSS "
            f"{run.peak_kib / 1024:.0f} MiB, exit {run.returncode}",
            flush=True,
        )
        if run.returncode:
            print(run.stdout[-2000:], run.stderr[-2000:])
        results["machine"] = common.machine_summary()
        results["date"] = datetime.now(UTC).date().isoformat()
        print(json.dumps(results, indent=2, default=str))
        return 0
    finally:
        common.tear_down(postgres, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument(
        "--increments",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1_000, 10_000, 50_000],
        help="entries booked before each incremental checkpoint, comma-separated",
    )
    parser.add_argument(
        "--fold-every", type=float, default=10.0, help="seconds between folds (the schedule's)"
    )
    parser.add_argument("--bookers", type=int, default=8)
    parser.add_argument("--booker-transactions", type=int, default=300)
    parser.add_argument("--entries-per-booking", type=int, default=3)
    common.exit_on_sigterm()
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
