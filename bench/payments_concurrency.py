"""Parallel card payments and refunds through gunicorn on PostgreSQL (issue 9).

    .venv/bin/python -m bench.payments_concurrency [--parallel 20] [--workers N] [--threads 4]

Starts a throw-away PostgreSQL (bench/common.py), migrates it and prepares N accepted orders of
N agencies (514.00 each) with the real services. Then it serves the API with gunicorn and the
project's gunicorn.conf.py (production settings, DEBUG off), and the stripe-compatible mock from
a second gunicorn of its own (the API's STRIPE_API_BASE points there; the mock's webhooks come
back to the API). It fires N parallel `paymentCreate(method: CARD, paymentMethod:
"pm_card_visa")`, each with its agency's token, then N parallel `orderRefund` of the whole
amount as an operator, while a trivial query (`{ __typename }`) is sent over and over, one at a
time (`--mock-in-app` serves the mock from the API's own workers instead, to show the app
waiting on itself). It prints p50/p95/max of each and checks that every request was answered
(HTTP 200, no error), then that every order is REFUNDED with exactly one charge and one refund
at the mock, and that the ledger nets to zero. Figures are printed, never asserted; a failed
check exits 1.
"""

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bench import common

PAY = """mutation($id: ID!) {
  paymentCreate(orderId: $id, method: CARD, paymentMethod: "pm_card_visa") {
    payment { status } errors { code message } } }"""
REFUND = """mutation($id: ID!, $amount: Decimal!) {
  orderRefund(orderId: $id, amount: $amount, reason: "bench: full refund") {
    order { paymentStatus } errors { code message } } }"""
TRIVIAL = "{ __typename }"
MOCK_SECRET_KEY = "sk_test_shanhai_mock"
MOCK_WEBHOOK_SECRET = "whsec_shanhai_mock"


@dataclass
class Outcome:
    seconds: float
    status: int
    problem: str = ""


@dataclass
class Trivial:
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, port: int) -> None:
        while not self.stop.is_set():
            try:
                seconds, status, payload = common.post_graphql(port, TRIVIAL, timeout=120)
                problem = "" if payload.get("data") == {"__typename": "Query"} else str(payload)
                self.outcomes.append(Outcome(seconds, status, problem))
            except OSError as error:
                self.outcomes.append(Outcome(float("nan"), 0, f"no answer: {error}"))
            time.sleep(0.05)


def prepare(count: int) -> tuple[list[tuple[str, str]], str, list[int]]:
    """`count` accepted orders of as many agencies: (token, order id) pairs, an operator's
    token and the order pks."""
    from graphql_relay import to_global_id

    from shop.accounts.models import Role
    from shop.accounts.tokens import create_access_token
    from tests.factories import UserFactory
    from tests.procurement import flows

    variant = flows.stocked_variant(stock=count * 10, price="128.50")
    buyers, pks = [], []
    for _ in range(count):
        user = flows.buyer()
        (order,) = flows.place(user, (variant, 4))
        flows.to_accepted(order, user)
        buyers.append((create_access_token(user), to_global_id("Order", order.pk)))
        pks.append(order.pk)
    operator = UserFactory(role=Role.OPERATOR, is_staff=True)
    return buyers, create_access_token(operator), pks


def fire(port: int, calls: list[tuple[str, str, dict]], name: str) -> list[Outcome]:
    """All calls at once (one thread each, released together)."""
    barrier = threading.Barrier(len(calls))

    def one(call: tuple[str, str, dict]) -> Outcome:
        token, query, variables = call
        barrier.wait()
        try:
            seconds, status, payload = common.post_graphql(
                port, query, variables, timeout=600, token=token
            )
        except OSError as error:
            return Outcome(float("nan"), 0, f"no answer: {error}")
        data = (payload.get("data") or {}).get(name) or {}
        problem = "" if status == 200 and data.get("errors") == [] else str(payload)[:300]
        return Outcome(seconds, status, problem)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def summary(label: str, outcomes: list[Outcome], wall: float) -> tuple[str, int]:
    answered = [o.seconds for o in outcomes if o.status]
    failed = [o for o in outcomes if o.problem]
    line = f"{label:<22} {len(answered)}/{len(outcomes)} answered"
    if answered:
        stats = common.LatencySummary.of(answered, wall)
        line += f"  p50 {stats.p50:.0f} ms  p95 {stats.p95:.0f} ms  max {stats.max:.0f} ms"
    if failed:
        line += f"  {len(failed)} FAILED, e.g. {failed[0].problem}"
    return line, len(failed) + len(outcomes) - len(answered)


def check_state(pks: list[int]) -> list[str]:
    """Every order refunded once, one charge and one refund each at the mock, ledger nets 0."""
    from django.db.models import Sum

    from procurement.models import ContributionEntry, Order, PaymentStatus, Refund, RefundState
    from shop.payments.mock.models import MockCharge, MockRefund

    problems = []
    statuses = set(Order.objects.filter(pk__in=pks).values_list("payment_status", flat=True))
    if statuses != {PaymentStatus.REFUNDED}:
        problems.append(f"order payment statuses {sorted(statuses)}")
    charges = MockCharge.objects.filter(status="succeeded").count()
    refunds = MockRefund.objects.count()
    booked = Refund.objects.filter(order__in=pks, state=RefundState.SUCCEEDED).count()
    if (charges, refunds, booked) != (len(pks), len(pks), len(pks)):
        problems.append(f"{charges} charges, {refunds} gateway refunds, {booked} booked refunds")
    net = ContributionEntry.objects.filter(order__in=pks).aggregate(s=Sum("amount"))["s"]
    if net != Decimal("0.00"):
        problems.append(f"ledger nets to {net}")
    return problems


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-bench-"))
    postgres = api = mock = None
    try:
        url, postgres = common.database(None)
        api_port, mock_port = common.free_port(), common.free_port()
        keys = {"STRIPE_SECRET_KEY": MOCK_SECRET_KEY, "STRIPE_WEBHOOK_SECRET": MOCK_WEBHOOK_SECRET}
        gateway_port = api_port if args.mock_in_app else mock_port
        api_env = common.production_env(
            url,
            MEDIA_ROOT=str(workdir),
            STRIPE_MOCK_ENABLED="true" if args.mock_in_app else "false",
            STRIPE_API_BASE=f"http://{common.LOOPBACK}:{gateway_port}/stripe-mock",
            STRIPE_MOCK_WEBHOOK_URL=f"http://{common.LOOPBACK}:{api_port}/webhooks/stripe/",
            **keys,
        )
        mock_env = {
            **api_env,
            "STRIPE_MOCK_ENABLED": "true",
            "STRIPE_MOCK_WEBHOOK_URL": f"http://{common.LOOPBACK}:{api_port}/webhooks/stripe/",
        }
        common.setup_and_migrate(api_env, "Migrating and preparing orders …")
        from django.core.management import call_command
        from django.db import connection

        buyers, operator, pks = prepare(args.parallel)
        connection.close()

        config = [
            "-c",
            str(common.PROJECT_ROOT / "gunicorn.conf.py"),
            "--threads",
            str(args.threads),
        ]
        where = "in the API's workers" if args.mock_in_app else f"{args.mock_workers} workers"
        print(
            f"Starting gunicorn: API {args.workers} workers × {args.threads} threads, "
            f"mock: {where} …",
            flush=True,
        )
        api = common.GunicornServer(
            env=api_env, workdir=workdir, workers=args.workers, extra_args=config, port=api_port
        )
        api.start()
        if not args.mock_in_app:
            mock_dir = workdir / "mock"
            mock_dir.mkdir()
            mock = common.GunicornServer(
                env=mock_env,
                workdir=mock_dir,
                workers=args.mock_workers,
                extra_args=config,
                port=mock_port,
            )
            mock.start()

        trivial = Trivial()
        background = threading.Thread(target=trivial.run, args=(api_port,), daemon=True)
        background.start()
        time.sleep(0.5)

        started = time.perf_counter()
        paid = fire(api_port, [(token, PAY, {"id": oid}) for token, oid in buyers], "paymentCreate")
        pay_wall = time.perf_counter() - started
        started = time.perf_counter()
        refunded = fire(
            api_port,
            [(operator, REFUND, {"id": oid, "amount": "514.00"}) for _t, oid in buyers],
            "orderRefund",
        )
        refund_wall = time.perf_counter() - started
        time.sleep(0.5)
        trivial.stop.set()
        background.join(130)

        time.sleep(2)  # the mock's webhooks (they change nothing more)
        call_command("payments_reconcile", "--refunds-within-days", "1")
        problems = check_state(pks)
        connection.close()

        print()
        print(
            f"Machine: {common.machine_summary()}; PostgreSQL {common.server_version(postgres.url)}"
        )
        lines = [
            summary(f"{args.parallel} card payments", paid, pay_wall),
            summary(f"{args.parallel} card refunds", refunded, refund_wall),
            summary("trivial query", trivial.outcomes, pay_wall + refund_wall),
        ]
        unanswered = 0
        for line, bad in lines:
            print(line)
            unanswered += bad
        print(f"wall: payments {pay_wall:.2f} s, refunds {refund_wall:.2f} s")
        for problem in problems:
            print(f"STATE CHECK FAILED: {problem}")
        if not problems:
            print(
                "state: every order REFUNDED; one charge and one refund each at the mock; "
                "ledger nets 0.00"
            )
        if "WORKER TIMEOUT" in api.log_tail(200_000):
            print("gunicorn reported WORKER TIMEOUT")
            unanswered += 1
        return 1 if unanswered or problems else 0
    finally:
        common.tear_down(mock, api, postgres, workdir=workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count() * 2 + 1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--mock-workers", type=int, default=2)
    parser.add_argument(
        "--mock-in-app",
        action="store_true",
        help="serve the mock from the API's own workers (shows the app starving on itself)",
    )
    sys.exit(common.run_until_interrupted(run, parser.parse_args()))


if __name__ == "__main__":
    main()
