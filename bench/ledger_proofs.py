"""Inclusion proofs A/B (issue 14): the stored hashes a proof needs fetched by a join of two key
arrays to the nodes' unique index (`store.perfect_hashes`, now) against the ORM's OR of one
`level = … AND index IN (…)` clause per level (before), on the same tree, interleaved.

    .venv/bin/python -m bench.ledger_proofs [--leaves 200000] [--proofs 1000]

A throw-away PostgreSQL (bench/common.py), migrated; a tree of random leaf hashes stored as
checkpoints store them (COPY of every leaf and completed subtree; no entries behind them), then
vacuumed; then `store.inclusion_proof` for random leaves, the two fetches alternating which
goes first. Prints median and p95 wall time, this process's CPU and the load average; the last
proof is checked against the root (printed). Then as many consistency proofs
(`store.consistency_proof` from a random earlier size to the tree's), likewise. Figures are
printed, never asserted.
"""

import argparse
import base64
import os
import random
import sys
import time

from bench import common


def run(args) -> None:
    postgres = common.ThrowAwayPostgres()
    postgres.start()
    try:
        key = base64.b64encode(os.urandom(32)).decode()
        common.setup_django(common.production_env(postgres.url, LEDGER_SIGNING_KEY=key))
        from django.core.management import call_command
        from django.db import connection

        from procurement.models import LedgerTreeNode
        from procurement.transparency import merkle, store

        call_command("migrate", interactive=False, verbosity=0)
        tree, rows = merkle.CompactRange(), []
        for _ in range(args.leaves):
            leaf = os.urandom(32)
            rows.append((0, tree.size, leaf, None))
            rows.extend((level, index, digest, None) for level, index, digest in tree.append(leaf))
        store._insert_nodes(rows)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE procurement_ledgertreenode")

        def by_orm(keys):
            return store.hashes_by_orm(set(keys))

        fetches = {"key arrays (now)": store.perfect_hashes, "ORM OR (before)": by_orm}
        seconds = {name: [] for name in fetches}
        cpu = dict.fromkeys(fetches, 0.0)
        rng = random.Random(3)
        size = args.leaves
        for n in range(args.proofs):
            index = rng.randrange(size)
            order = list(fetches) if n % 2 else list(reversed(fetches))
            for name in order:
                store.perfect_hashes = fetches[name]
                started, used = time.perf_counter(), time.process_time()
                path = store.inclusion_proof(index, size)
                seconds[name].append(time.perf_counter() - started)
                cpu[name] += time.process_time() - used
        store.perfect_hashes = fetches["key arrays (now)"]
        leaf = bytes(LedgerTreeNode.objects.get(level=0, index=index).hash)
        holds = merkle.verify_inclusion(index, size, leaf, path, store.root_at(size))
        print(f"the last proof verifies against the root: {holds}")
        for name, values in seconds.items():
            print(
                f"{name}: tree {size:,}, {args.proofs} proofs: median "
                f"{common.percentile(values, 50) * 1000:.2f} ms, p95 "
                f"{common.percentile(values, 95) * 1000:.2f} ms, CPU "
                f"{cpu[name] / args.proofs * 1000:.2f} ms per proof; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        # Consistency proofs (an auditor's: a random earlier size to the latest), with the
        # key-array fetch, the way the service computes them.
        consistency, used = [], time.process_time()
        for _ in range(args.proofs):
            old = rng.randrange(1, size)
            started = time.perf_counter()
            path = store.consistency_proof(old, size)
            consistency.append(time.perf_counter() - started)
        used = time.process_time() - used
        holds = merkle.verify_consistency(old, size, store.root_at(old), store.root_at(size), path)
        print(
            f"consistency proofs: tree {size:,}, {args.proofs} proofs: median "
            f"{common.percentile(consistency, 50) * 1000:.2f} ms, p95 "
            f"{common.percentile(consistency, 95) * 1000:.2f} ms, CPU "
            f"{used / args.proofs * 1000:.2f} ms per proof; load {os.getloadavg()[0]:.1f}; "
            f"the last verifies: {holds}",
            flush=True,
        )
    finally:
        postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, default=200_000)
    parser.add_argument("--proofs", type=int, default=1000)
    common.exit_on_sigterm()
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
