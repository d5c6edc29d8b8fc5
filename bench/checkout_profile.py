"""CPU of one checkout, in one process, no concurrency (issue 15 item 1): cheap on a shared
machine, and what decides hot-stock throughput once the locks are short (checkouts per second
≤ CPUs / CPU per checkout).

    .venv/bin/python -m bench.checkout_profile [--checkouts 100] [--rounds 3] [--profile 40]
                                               [--sort tottime]
                                               [--database-url postgres://…]

One agency buys the hot basket of bench/checkout_throughput.py (10 lines over 3 suppliers → 3
orders) again and again, calling `checkout_create` directly, with jobs as rows for workers (as in
production). Per round it prints the Python CPU (this process's user+sys), the PostgreSQL CPU
(the backend serving this connection, from /proc) and the wall time per checkout, with the
1-minute load average; then the statements of one checkout, and with `--profile N` the N
functions of most cumulative time (cProfile, CPU clock).

To compare two versions of the code, which may differ outside checkout.py, run this module from
a worktree of each, in turns, against one `--database-url` (the first run migrates it and writes
the catalog). Figures are printed, never asserted.
"""

import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import common
from bench.checkout_throughput import (
    hot_basket,
    load_buyer,
    make_agencies,
    set_stock,
    variant_pool,
)


def checkouts(user, basket: list[int], count: int) -> None:
    from procurement.services.checkout import CheckoutLine, ShippingAddress, checkout_create

    lines = [CheckoutLine(v, 1 + n % 3) for n, v in enumerate(basket)]
    shipping = ShippingAddress("压测收货人", "0591-88888888", "福州市鼓楼区压测路1号")
    for _ in range(count):
        checkout_create(
            acting_user=user,
            lines=lines,
            shipping=shipping,
            idempotency_key=f"profile-{uuid.uuid4().hex}",
        )


def backend_cpu_seconds() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return common.proc_cpu_seconds(pid) or float("nan")


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-checkout-profile-"))
    postgres = None
    try:
        if args.database_url:
            database_url = args.database_url
        else:
            print("Starting a throw-away PostgreSQL …", flush=True)
            postgres = common.ThrowAwayPostgres().start()
            database_url = postgres.url
        env = common.production_env(database_url, MEDIA_ROOT=str(workdir), JOBS_BACKEND="database")
        common.setup_django(env)
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from bench import catalog_dataset

        call_command("migrate", interactive=False, verbosity=0)
        catalog_dataset.generate(products=args.products, suppliers=args.suppliers)
        (user_id,) = make_agencies(1)
        user = load_buyer(user_id)
        basket = hot_basket(variant_pool(), random.Random(args.seed))
        set_stock(dict.fromkeys(basket, 100_000_000))
        checkouts(user, basket, 10)  # warm up: imports, caches, first-use paths
        print(
            f"checkout_create in one process, {len(basket)} lines over 3 suppliers → 3 orders, "
            f"{args.checkouts} checkouts a round, {os.cpu_count()} CPUs (shared)"
        )
        for round_no in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            pg_before = backend_cpu_seconds()
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            checkouts(user, basket, args.checkouts)
            cpu = (time.process_time() - cpu_before) * 1000 / args.checkouts
            wall = (time.perf_counter() - wall_before) * 1000 / args.checkouts
            pg = (backend_cpu_seconds() - pg_before) * 1000 / args.checkouts
            print(
                f"  round {round_no}: Python CPU {cpu:.1f} ms + PostgreSQL CPU {pg:.1f} ms = "
                f"{cpu + pg:.1f} ms per checkout, wall {wall:.1f} ms; load {load:.2f} at the start",
                flush=True,
            )
        with CaptureQueriesContext(connection) as captured:
            checkouts(user, basket, 1)
        print(f"\n  the {len(captured.captured_queries)} statements of one checkout:")
        for query in captured.captured_queries:
            print(f"    {' '.join(query['sql'].split())[:110]}")
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(checkouts, user, basket, args.checkouts)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.profile)
            print(f"\n  cProfile (CPU clock) of {args.checkouts} checkouts:\n{out.getvalue()}")
        return 0
    finally:
        common.tear_down(postgres, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__)
    parser.add_argument("--checkouts", type=int, default=100, help="checkouts per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--products", type=int, default=2_000, help="catalog size")
    parser.add_argument("--suppliers", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--sort", default="cumulative", help="cProfile order: cumulative, tottime, …"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile top N")
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
