"""Soak test (issue 16): mixed load at a fixed rate through gunicorn with the task worker running.

    nice -n 10 .venv/bin/python -m bench.soak [--minutes 10] [--rate 5] [--workers 3]

1. A throw-away PostgreSQL (bench/common.py), migrated, with the bench catalog
   (bench/catalog_dataset.py, `--products` sellable products of 20 suppliers) indexed in the
   database search table, `--agencies` agency buyers, a staff user per supplier and an auditor.
2. The API: `gunicorn -c gunicorn.conf.py shop.wsgi` (`--workers` × `--threads`, production
   settings, DEBUG off, JSON logs); the stripe-compatible mock from a gunicorn of its own (as in
   production the mock must not be served by the API's workers; its webhooks come back to the
   API); one `manage.py worker` (jobs and the periodic schedules). Each process connects with
   its own `application_name`, so pg_stat_activity tells their connections apart.
3. The load: `--rate` requests per second, dispatched on a fixed clock (open loop: a slow answer
   does not slow the rate; each request runs on a thread of a pool) for `--minutes`. A cycle of
   ten requests walks one order through its life and reads around it: checkout (agency), the
   listing, a search, confirm (supplier), a product page, ship (supplier), an auditor's report
   (contributionSummary), acceptance (agency), a card payment through the mock (agency), and a
   restock (supplier `stockUpdate`, which enqueues the search outbox job from the request) or a
   second search, in turn. A step whose order is not ready yet (its previous step still running)
   reads a product page instead, counted as substituted.
4. Every `--sample-seconds`: RSS of each gunicorn worker, the master, the task worker and the
   mock (/proc/<pid>/smaps_rollup), connections per application in pg_stat_activity, and the
   task queue's due jobs and oldest due age from `/metrics` (scraped with METRICS_TOKEN).
5. At the end: errors (HTTP, GraphQL, mutation errors, no answer; ERROR lines and `outcome`
   other than `ok` in the JSON logs of the API and the worker; failed jobs), each process's RSS
   growth after the warm-up (median of the minute after warm-up against the median of the last
   minute), peak connections per application, queue lag (sampled oldest due age, and each job's
   wait from due to started from the job table), `manage.py ledger_verify` and
   `ledger_reconcile`, and that paid orders = orders booked in the ledger = charges at the mock.

It prints the figures, writes them as markdown to `--results` (default bench/RESULTS-soak.md)
and draws latency, RSS, connections and queue lag over time to `--png` (default
bench/soak.png; needs matplotlib, the `bench` extra). Thresholds (`--max-growth-mib`,
`--max-lag-seconds`) turn a check into FAIL and the exit status into 1; the figures themselves
are measured, never asserted in the test suite. Everything it started is stopped on exit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import common

SUPPLIERS = 20
MOCK_SECRET_KEY = "sk_test_shanhai_mock"
MOCK_WEBHOOK_SECRET = "whsec_shanhai_mock"
APP_NAMES = {"api": "shanhai-web", "worker": "shanhai-worker", "mock": "shanhai-mock"}

LISTING = """query Listing($after: String) { products(first: 20, after: $after) {
  edges { node { name slug priceRange { start { amount } } } } pageInfo { endCursor } } }"""
DETAIL = """query Detail($slug: String!) { product(slug: $slug) { name slug
  supplier { name } variants { sku unitPrice { amount } quantityAvailable inStock } } }"""
SEARCH = """query Search($q: String!) { search(query: $q, first: 20) {
  totalCount edges { node { name slug } } } }"""
CHECKOUT = """mutation Checkout($key: String!, $lines: [CheckoutLineInput!]!,
  $address: ShippingAddressInput!) {
  checkoutCreate(idempotencyKey: $key, lines: $lines, shippingAddress: $address) {
    orders { id } errors { field code message } } }"""
CONFIRM = """mutation Confirm($id: ID!) { orderConfirm(id: $id) {
  order { status } errors { field code message } } }"""
SHIP = """mutation Ship($id: ID!, $tracking: String!) {
  orderShip(id: $id, trackingNumber: $tracking) {
    order { status } errors { field code message } } }"""
ACCEPT = """mutation Accept($id: ID!) { orderAccept(id: $id) {
  order { status acceptedValue { amount } } errors { field code message } } }"""
PAY = """mutation Pay($id: ID!) {
  paymentCreate(orderId: $id, method: CARD, paymentMethod: "pm_card_visa") {
    payment { status } errors { field code message } } }"""
RESTOCK = """mutation Restock($id: ID!, $quantity: Int!) {
  stockUpdate(variantId: $id, quantity: $quantity) {
    variant { quantityAvailable } errors { field code message } } }"""
REPORTS = [
    """query Report { contributionSummary(groupBy: [CITY]) { total { amount } entryCount
      rows { keys { dimension value label } total { amount } entryCount } } }""",
    """query Report { contributionSummary(groupBy: [SUPPLIER, CATEGORY]) { total { amount }
      entryCount rows { keys { dimension value } total { amount } } } }""",
]
SEARCH_TEXTS = [
    "枸杞",
    "gouqi",
    "滩羊",
    "红酒",
    "中宁",
    "马铃薯",
    "牛肉",
    "ningxia",
    "枸杞干果",
    "葡萄酒",
]
ADDRESS = {"recipient": "王老师", "phone": "0591-87654321", "address": "福州市鼓楼区杨桥东路1号"}

# One cycle: one order's whole life among reads (see the docstring).
CYCLE = [
    "checkout",
    "listing",
    "search",
    "confirm",
    "detail",
    "ship",
    "auditor_report",
    "accept",
    "payment",
    "restock_or_search",
]


# --- Data -------------------------------------------------------------------------------------


@dataclass
class Fixture:
    buyers: list[str]  # agency buyers' access tokens
    auditor: str
    supplier_tokens: dict[int, str]  # supplier pk -> a staff user's token
    variants: list[tuple[str, int]]  # (variant global id, supplier pk), sellable, MOQ 1
    slugs: list[str]


def prepare(products: int, agencies: int) -> Fixture:
    from django.conf import settings
    from django.utils import timezone
    from graphql_relay import to_global_id

    from bench import catalog_dataset
    from catalog.models import Product, ProductVariant
    from search.backends.database import DatabaseSearchBackend
    from shop.accounts.models import Role
    from shop.accounts.tokens import create_access_token
    from tests.factories import UserFactory
    from tests.procurement import flows

    # Nobody signs in (tokens are made here): a fast hasher spares ~40 slow password hashes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    catalog_dataset.generate(products=products, suppliers=SUPPLIERS)
    DatabaseSearchBackend().rebuild()
    sellable = Product.objects.sellable(timezone.localdate()).filter(slug__startswith="bench-")
    variants = list(
        ProductVariant.objects.filter(
            product__in=sellable, minimum_order_quantity=1, stock__gte=500
        )
        .order_by("pk")
        .values_list("pk", "product__supplier_id")[:400]
    )
    suppliers = {supplier for _pk, supplier in variants}
    from catalog.models import Supplier

    supplier_tokens = {
        supplier.pk: create_access_token(flows.staff_of(supplier))
        for supplier in Supplier.objects.filter(pk__in=suppliers)
    }
    buyers = [create_access_token(flows.buyer()) for _ in range(agencies)]
    auditor = create_access_token(UserFactory(role=Role.AUDITOR))
    return Fixture(
        buyers=buyers,
        auditor=auditor,
        supplier_tokens=supplier_tokens,
        variants=[(to_global_id("ProductVariant", pk), supplier) for pk, supplier in variants],
        slugs=list(sellable.order_by("?").values_list("slug", flat=True)[:500]),
    )


# --- Load -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    at: float  # seconds since the load started, when the request was sent
    kind: str
    seconds: float
    problem: str = ""
    substituted: bool = False


@dataclass
class OrderInFlight:
    order_id: str
    buyer: str
    supplier: str


class Load:
    """The ten-step cycle on a fixed clock; stateful steps take orders from the step before."""

    def __init__(self, port: int, fixture: Fixture, seed: int):
        self.port = port
        self.fixture = fixture
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stages: dict[str, deque[OrderInFlight]] = {
            name: deque() for name in ("confirm", "ship", "accept", "payment")
        }
        self.outcomes: list[Outcome] = []
        self.paid = 0
        self.restocks = itertools.count()
        self.started = 0.0

    # one request ----------------------------------------------------------------------------

    def _post(self, query: str, variables: dict, token: str | None = None) -> tuple[float, dict]:
        seconds, status, payload = common.post_graphql(
            self.port, query, variables, timeout=60, token=token
        )
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {json.dumps(payload, ensure_ascii=False)[:300]}")
        if payload.get("errors") or not payload.get("data"):
            raise RuntimeError(json.dumps(payload, ensure_ascii=False)[:300])
        for value in payload["data"].values():
            if isinstance(value, dict) and value.get("errors"):
                raise RuntimeError(json.dumps(value["errors"], ensure_ascii=False)[:300])
        return seconds, payload["data"]

    def _take(self, stage: str) -> OrderInFlight | None:
        with self.lock:
            queue = self.stages[stage]
            return queue.popleft() if queue else None

    def _give(self, stage: str, order: OrderInFlight) -> None:
        with self.lock:
            self.stages[stage].append(order)

    def _read(self, kind: str) -> float:
        with self.lock:
            rng_value = self.rng.random()
            slug = self.rng.choice(self.fixture.slugs)
            text = self.rng.choice(SEARCH_TEXTS)
        if kind == "listing":
            return self._post(LISTING, {})[0]
        if kind == "search":
            return self._post(SEARCH, {"q": text})[0]
        if kind == "auditor_report":
            report = REPORTS[0] if rng_value < 0.5 else REPORTS[1]
            return self._post(report, {}, self.fixture.auditor)[0]
        seconds, data = self._post(DETAIL, {"slug": slug})
        if data["product"] is None:
            raise RuntimeError(f"no product {slug}")
        return seconds

    def step(self, kind: str, at: float) -> Outcome:
        substituted = False
        try:
            seconds, kind, substituted = self._step(kind)
            problem = ""
        except Exception as error:  # noqa: BLE001 - every failure is a counted error
            seconds, problem = float("nan"), f"{type(error).__name__}: {error}"
        outcome = Outcome(at, kind, seconds, problem, substituted)
        with self.lock:
            self.outcomes.append(outcome)
        return outcome

    def _step(self, kind: str) -> tuple[float, str, bool]:
        fixture = self.fixture
        if kind == "restock_or_search":
            kind = "restock" if next(self.restocks) % 2 == 0 else "search"
        if kind in ("listing", "search", "detail", "auditor_report"):
            return self._read(kind), kind, False
        if kind == "restock":
            with self.lock:
                variant, supplier = self.rng.choice(fixture.variants)
                quantity = self.rng.randint(1000, 2000)
            seconds, _ = self._post(
                RESTOCK, {"id": variant, "quantity": quantity}, fixture.supplier_tokens[supplier]
            )
            return seconds, kind, False
        if kind == "checkout":
            with self.lock:
                variant, supplier = self.rng.choice(fixture.variants)
                buyer = self.rng.choice(fixture.buyers)
                quantity = self.rng.randint(1, 3)
            seconds, data = self._post(
                CHECKOUT,
                {
                    "key": uuid.uuid4().hex,
                    "lines": [{"variantId": variant, "quantity": quantity}],
                    "address": ADDRESS,
                },
                buyer,
            )
            (order,) = data["checkoutCreate"]["orders"]
            self._give(
                "confirm", OrderInFlight(order["id"], buyer, fixture.supplier_tokens[supplier])
            )
            return seconds, kind, False
        order = self._take(kind)
        if order is None:  # the step before has not finished yet: read instead
            return self._read("detail"), "detail", True
        if kind == "confirm":
            seconds, _ = self._post(CONFIRM, {"id": order.order_id}, order.supplier)
            self._give("ship", order)
        elif kind == "ship":
            seconds, _ = self._post(
                SHIP, {"id": order.order_id, "tracking": "SF1234567890"}, order.supplier
            )
            self._give("accept", order)
        elif kind == "accept":
            seconds, _ = self._post(ACCEPT, {"id": order.order_id}, order.buyer)
            self._give("payment", order)
        elif kind == "payment":
            seconds, data = self._post(PAY, {"id": order.order_id}, order.buyer)
            status = data["paymentCreate"]["payment"]["status"]
            if status != "SUCCEEDED":
                raise RuntimeError(f"payment {status}")
            with self.lock:
                self.paid += 1
        else:
            raise ValueError(kind)
        return seconds, kind, False

    def run(self, seconds: float, rate: float, threads: int) -> None:
        """Dispatch on the clock: request n is sent at start + n / rate."""
        self.started = time.monotonic()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for n in itertools.count():
                due = self.started + n / rate
                if due - self.started >= seconds:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self.step, CYCLE[n % len(CYCLE)], due - self.started)


# --- Sampling ---------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    rss: dict[str, float]  # process label -> RSS MiB
    connections: dict[str, int]  # application_name -> backends
    queue_due: float
    queue_oldest_due_age: float
    load1: float


@dataclass
class Sampler:
    interval: float
    processes: dict[str, object]  # label -> callable returning pids (several for gunicorn)
    database_url: str
    dbname: str
    metrics_port: int
    metrics_token: str
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0

    def _queue(self) -> tuple[float, float]:
        _s, status, body = common.http_request(
            self.metrics_port,
            "GET",
            "/metrics",
            headers={"Authorization": f"Bearer {self.metrics_token}"},
            timeout=30,
        )
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        text = body.decode()
        values = {}
        for name in ("shanhai_task_queue_due", "shanhai_task_queue_oldest_due_age_seconds"):
            match = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE)
            if not match:
                raise RuntimeError(f"{name} missing from /metrics")
            values[name] = float(match.group(1))
        return values["shanhai_task_queue_due"], values["shanhai_task_queue_oldest_due_age_seconds"]

    def take(self, conn) -> None:
        rss = {}
        for label, pids in self.processes.items():
            for pid in pids():
                rss[f"{label} {pid}"] = common.proc_memory_mib(pid)["rss"]
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = %s GROUP BY 1",
            (self.dbname,),
        ).fetchall()
        due, age = self._queue()
        self.samples.append(
            Sample(
                at=time.monotonic() - self.started,
                rss=rss,
                connections={name or "(other)": count for name, count in rows},
                queue_due=due,
                queue_oldest_due_age=age,
                load1=os.getloadavg()[0],
            )
        )

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("SET application_name = 'shanhai-bench-sampler'")
            while not self.stop.is_set():
                try:
                    self.take(conn)
                except Exception as error:  # noqa: BLE001 - reported at the end
                    self.problems.append(
                        f"sample at {time.monotonic() - self.started:.0f} s: {error}"
                    )
                self.stop.wait(self.interval)


# --- Checks at the end ------------------------------------------------------------------------


def log_errors(path: Path, since: datetime) -> tuple[int, int, list[str]]:
    """(JSON lines read, lines that are errors, a few of them) from a JSON-lines log since the
    load started (before it, the readiness probe's bare GET answers 400): level ERROR or
    CRITICAL, or a request/job line whose outcome is not ok/succeeded."""
    lines = bad = 0
    examples = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            if "Traceback" in raw or "WORKER TIMEOUT" in raw:
                bad += 1
                examples.append(raw[:200])
            continue
        if not isinstance(entry, dict) or datetime.fromisoformat(entry["time"]) < since:
            continue
        lines += 1
        outcome = entry.get("outcome", "ok")
        if entry.get("level") in ("ERROR", "CRITICAL") or outcome not in ("ok", "succeeded"):
            bad += 1
            if len(examples) < 5:
                examples.append(raw[:300])
    return lines, bad, examples


def job_lines(path: Path) -> list[dict]:
    found = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("logger") == "shanhai.jobs" and "job_id" in entry:
            found.append(entry)
    return found


@dataclass
class JobRun:
    name: str  # the job's dotted path
    wait: float  # seconds from due (enqueued, or its run_after) to started
    run: float | None  # seconds from started to finished (None: not finished)


def job_runs(since: datetime) -> tuple[int, int, list[JobRun]]:
    """(jobs, failed jobs, each started job's wait and run time) of jobs enqueued since `since`."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    rows = DBTaskResult.objects.filter(enqueued_at__gte=since)
    runs = []
    for path, enqueued, run_after, started, finished in rows.exclude(started_at=None).values_list(
        "task_path", "enqueued_at", "run_after", "started_at", "finished_at"
    ):
        due = enqueued if run_after == get_date_max() else max(enqueued, run_after)
        runs.append(
            JobRun(
                name=path,
                wait=max((started - due).total_seconds(), 0.0),
                run=(finished - started).total_seconds() if finished else None,
            )
        )
    return rows.count(), rows.filter(status="FAILED").count(), runs


def ledger_checks() -> dict[str, object]:
    from io import StringIO

    from django.core.management import call_command
    from django.db.models import Sum

    from procurement.models import ContributionEntry, Order, PaymentStatus
    from shop.payments.mock.models import MockCharge

    results: dict[str, object] = {}
    for command in ("ledger_verify", "ledger_reconcile"):
        out = StringIO()
        try:
            call_command(command, stdout=out, stderr=out)
            results[command] = ("ok", out.getvalue().strip())
        except BaseException as error:  # noqa: BLE001 - CommandError or SystemExit: a fault
            results[command] = ("FAIL", f"{error} {out.getvalue().strip()}")
    paid = Order.objects.filter(payment_status=PaymentStatus.PAID)
    results["paid"] = paid.count()
    results["booked"] = (
        ContributionEntry.objects.filter(order__in=paid).values("order").distinct().count()
    )
    booked_total = ContributionEntry.objects.filter(order__in=paid).aggregate(s=Sum("amount"))["s"]
    paid_total = paid.aggregate(s=Sum("accepted_value"))["s"]
    results["booked_equals_accepted"] = booked_total == paid_total
    results["booked_total"] = booked_total
    results["charged"] = MockCharge.objects.filter(status="succeeded").count()
    return results


# --- Report -----------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def memory_growth(samples: list[Sample], warmup: float, window: float) -> dict[str, dict]:
    """Per process: RSS after warm-up (median of the window after it), at the end (median of
    the last window), growth, and peak."""
    end = samples[-1].at if samples else 0.0
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample in samples:
        for label, rss in sample.rss.items():
            series[label].append((sample.at, rss))
    growth = {}
    for label, points in series.items():
        after = [rss for at, rss in points if warmup <= at < warmup + window]
        last = [rss for at, rss in points if at >= end - window]
        if not after or not last or points[-1][0] < end - window:
            growth[label] = {"note": "not alive for the whole run (recycled?)"}
            continue
        growth[label] = {
            "after_warmup": _median(after),
            "end": _median(last),
            "growth": _median(last) - _median(after),
            "peak": max(rss for _at, rss in points),
        }
    return growth


def plot(path: Path, outcomes: list[Outcome], samples: list[Sample], bucket: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem, other) = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    by_kind: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for outcome in outcomes:
        if not outcome.problem:
            by_kind[outcome.kind][int(outcome.at // bucket)].append(outcome.seconds * 1000)
    for kind in sorted(by_kind):
        buckets = sorted(by_kind[kind])
        xs = [(b + 0.5) * bucket / 60 for b in buckets]
        ys = [common.percentile(by_kind[kind][b], 95) for b in buckets]
        lat.plot(xs, ys, label=kind, linewidth=1, marker=".")
    lat.set_ylabel(f"p95 latency per {bucket:.0f} s (ms)")
    lat.set_yscale("log")
    lat.legend(fontsize=7, ncol=4)
    lat.grid(alpha=0.3)

    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample in samples:
        for label, rss in sample.rss.items():
            series[label].append((sample.at / 60, rss))
    for label in sorted(series):
        xs, ys = zip(*series[label], strict=True)
        mem.plot(xs, ys, label=label, linewidth=1)
    mem.set_ylabel("RSS (MiB)")
    mem.legend(fontsize=7, ncol=3)
    mem.grid(alpha=0.3)

    xs = [s.at / 60 for s in samples]
    apps = sorted({name for s in samples for name in s.connections})
    for name in apps:
        other.plot(xs, [s.connections.get(name, 0) for s in samples], label=f"connections {name}")
    other.set_ylabel("PostgreSQL connections")
    other.grid(alpha=0.3)
    lag = other.twinx()
    lag.plot(xs, [s.queue_oldest_due_age for s in samples], "k--", linewidth=1, label="queue lag")
    lag.set_ylabel("oldest due job waited (s)")
    handles = other.get_legend_handles_labels()
    more = lag.get_legend_handles_labels()
    other.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, ncol=3)
    other.set_xlabel("minutes")
    fig.suptitle("Shanhai soak test")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(args, context: dict) -> tuple[str, bool]:
    outcomes: list[Outcome] = context["outcomes"]
    samples: list[Sample] = context["samples"]
    wall = context["wall"]
    lines: list[str] = []
    ok = True

    def check(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        lines.append(f"- {'PASS' if passed else 'FAIL'}: {text}")

    errors = [o for o in outcomes if o.problem]
    lines.append("## Load")
    lines.append("")
    lines.append(
        f"{len(outcomes)} requests in {wall:.0f} s ({len(outcomes) / wall:.2f}/s, target "
        f"{args.rate}/s), {len(errors)} errors, "
        f"{sum(o.substituted for o in outcomes)} steps substituted by a product page."
    )
    lines.append("")
    lines.append("| operation | requests | errors | p50 ms | p95 ms | p99 ms | max ms |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        kinds[outcome.kind].append(outcome)
    for kind in sorted(kinds):
        answered = [o.seconds * 1000 for o in kinds[kind] if not o.problem]
        failed = len(kinds[kind]) - len(answered)
        if answered:
            pcts = [common.percentile(answered, p) for p in (50, 95, 99)]
            figures = " | ".join(f"{v:.0f}" for v in (*pcts, max(answered)))
        else:
            figures = "– | – | – | –"
        lines.append(f"| {kind} | {len(kinds[kind])} | {failed} | {figures} |")
    lines.append("")
    lines.append("## Checks")
    lines.append("")
    check(not errors, f"{len(errors)} request errors")
    for example in errors[:5]:
        lines.append(f"  - {example.kind} at {example.at:.0f} s: {example.problem}")
    for name, (read, bad, examples) in context["logs"].items():
        check(bad == 0, f"{name} log: {bad} error lines of {read} JSON lines")
        for example in examples:
            lines.append(f"  - `{example}`")
    jobs, failed_jobs, runs = context["jobs"]
    waits = [run.wait for run in runs]
    check(failed_jobs == 0, f"{jobs} jobs ran, {failed_jobs} failed")
    job_log = context["job_lines"]
    with_queries = sum("db_queries" in line for line in job_log)
    lines.append(
        f"- job log: {len(job_log)} lines, {with_queries} with `db_queries`; "
        f"{sum(line.get('request_id', '-') != '-' for line in job_log)} carry the request id "
        "of the request that enqueued them"
    )
    for problem in context["sampler_problems"][:5]:
        check(False, problem)

    growth = memory_growth(samples, context["warmup"], context["window"])
    lines.append("")
    lines.append(
        f"Memory (RSS, MiB; after warm-up = median of the {context['window']:.0f} s after the "
        f"first {context['warmup']:.0f} s, end = median of the last {context['window']:.0f} s):"
    )
    lines.append("")
    lines.append("| process | after warm-up | end | growth | peak |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for label in sorted(growth):
        figures = growth[label]
        if "note" in figures:
            lines.append(f"| {label} | {figures['note']} | | | |")
            continue
        worst = max(worst, figures["growth"])
        lines.append(
            f"| {label} | {figures['after_warmup']:.1f} | {figures['end']:.1f} | "
            f"{figures['growth']:+.1f} | {figures['peak']:.1f} |"
        )
    lines.append("")
    check(
        worst <= args.max_growth_mib,
        f"memory flat: largest growth after warm-up {worst:+.1f} MiB per process "
        f"(limit {args.max_growth_mib} MiB)",
    )
    peaks: dict[str, int] = defaultdict(int)
    for sample in samples:
        for name, count in sample.connections.items():
            peaks[name] = max(peaks[name], count)
    api_limit = args.workers * args.threads
    api_peak = peaks.get(APP_NAMES["api"], 0)
    last = samples[-1].connections if samples else {}
    check(
        api_peak <= api_limit,
        f"connections bounded: API peak {api_peak} (at most workers × threads = {api_limit}), "
        f"at the end {last.get(APP_NAMES['api'], 0)}; worker peak "
        f"{peaks.get(APP_NAMES['worker'], 0)}, mock peak {peaks.get(APP_NAMES['mock'], 0)}",
    )
    lag_peak = max((s.queue_oldest_due_age for s in samples), default=0.0)
    due_peak = max((s.queue_due for s in samples), default=0.0)
    check(
        lag_peak <= args.max_lag_seconds,
        f"queue lag bounded: oldest due job waited at most {lag_peak:.1f} s when sampled "
        f"(limit {args.max_lag_seconds} s), at most {due_peak:.0f} jobs due",
    )
    if waits:
        lines.append(
            f"- each job's wait from due to started: p50 {common.percentile(waits, 50):.2f} s, "
            f"p95 {common.percentile(waits, 95):.2f} s, max {max(waits):.2f} s ({len(waits)} jobs)"
        )
        lines.append("")
        lines.append("Jobs (one worker runs them one at a time: a long run delays the next):")
        lines.append("")
        lines.append("| job | runs | wait p50 s | wait max s | run p50 s | run max s |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        by_name: dict[str, list[JobRun]] = defaultdict(list)
        for run in runs:
            by_name[run.name].append(run)
        for name in sorted(by_name):
            waited = [r.wait for r in by_name[name]]
            took = [r.run for r in by_name[name] if r.run is not None] or [float("nan")]
            lines.append(
                f"| {name} | {len(by_name[name])} | {_median(waited):.2f} | {max(waited):.2f} | "
                f"{_median(took):.2f} | {max(took):.2f} |"
            )
        lines.append("")
    ledger = context["ledger"]
    for command in ("ledger_verify", "ledger_reconcile"):
        state, text = ledger[command]
        check(state == "ok", f"`manage.py {command}`: {text}")
    check(
        ledger["paid"] == ledger["booked"] == ledger["charged"] == context["paid_by_load"]
        and ledger["booked_equals_accepted"],
        f"{ledger['paid']} orders paid = {ledger['booked']} booked in the ledger "
        f"({ledger['booked_total']} CNY, the paid orders' accepted value) = "
        f"{ledger['charged']} charges at the mock = {context['paid_by_load']} payments answered",
    )
    load = [s.load1 for s in samples]
    lines.append("")
    lines.append(
        f"Load average (1 min) while it ran: median {_median(load):.1f}, max "
        f"{max(load, default=0):.1f} on {os.cpu_count()} CPUs."
    )
    return "\n".join(lines), ok


# --- Run --------------------------------------------------------------------------------------


def start_worker(env: dict, workdir: Path) -> subprocess.Popen:
    log = (workdir / "worker.log").open("ab")
    return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "manage.py", "worker", "--worker-id", "soak-worker"],
        cwd=common.PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _with_app(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def run(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="shanhai-soak-"))
    postgres = api = mock = worker = None
    sampler = None
    try:
        _url, postgres = common.database(None)
        api_port, mock_port = common.free_port(), common.free_port()
        metrics_token = uuid.uuid4().hex
        webhook = f"http://{common.LOOPBACK}:{api_port}/webhooks/stripe/"
        base = {
            "MEDIA_ROOT": str(workdir / "media"),
            "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
            "STRIPE_SECRET_KEY": MOCK_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": MOCK_WEBHOOK_SECRET,
            "STRIPE_API_BASE": f"http://{common.LOOPBACK}:{mock_port}/stripe-mock",
            "STRIPE_MOCK_WEBHOOK_URL": webhook,
            "STRIPE_MOCK_ENABLED": "false",
            "METRICS_TOKEN": metrics_token,
            "LOG_FORMAT": "json",
            "DATABASE_CONN_MAX_AGE": "60",
            "JWT_ACCESS_TOKEN_MINUTES": str(int(args.minutes) + 60),
            "SEARCH_BACKEND": "",
            # No SMTP server here: with production's SMTP backend every send_email job fails
            # and retries (the task worker check fails); the job runs, the message goes nowhere.
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
        env = common.production_env(postgres.url, **base)
        env.pop("ELASTICSEARCH_URL", None)
        env.pop("CACHE_URL", None)
        api_env = {**env, "DATABASE_URL": _with_app(postgres.url, APP_NAMES["api"])}
        mock_env = {
            **env,
            "DATABASE_URL": _with_app(postgres.url, APP_NAMES["mock"]),
            "STRIPE_MOCK_ENABLED": "true",
        }
        # The worker delivers the mock's webhooks that failed (a periodic job while the mock is on).
        worker_env = {
            **env,
            "DATABASE_URL": _with_app(postgres.url, APP_NAMES["worker"]),
            "STRIPE_MOCK_ENABLED": "true",
        }
        common.setup_and_migrate(
            env, f"Migrating, {args.products} products, {args.agencies} agencies …"
        )
        from django.db import connection

        fixture = prepare(args.products, args.agencies)
        connection.close()

        config = ["-c", str(common.PROJECT_ROOT / "gunicorn.conf.py")]
        print(
            f"Starting gunicorn ({args.workers} workers × {args.threads} threads), the mock and "
            "the task worker …",
            flush=True,
        )
        api_env["GUNICORN_THREADS"] = str(args.threads)
        api = common.GunicornServer(
            env=api_env, workdir=workdir, workers=args.workers, extra_args=config, port=api_port
        )
        api.start()
        mock_dir = workdir / "mock"
        mock_dir.mkdir()
        mock = common.GunicornServer(
            env=mock_env,
            workdir=mock_dir,
            workers=1,
            extra_args=config,
            port=mock_port,
        )
        mock.start()
        worker = start_worker(worker_env, workdir)

        sampler = Sampler(
            interval=args.sample_seconds,
            processes={
                "api worker": api.worker_pids,
                "api master": lambda: [api.process.pid] if api.process else [],
                "task worker": lambda: [worker.pid] if worker.poll() is None else [],
                "mock worker": mock.worker_pids,
            },
            database_url=postgres.url,
            dbname=postgres.dbname,
            metrics_port=api_port,
            metrics_token=metrics_token,
        )
        load = Load(api_port, fixture, args.seed)
        seconds = args.minutes * 60
        print(
            f"Load: {args.rate} requests/s for {args.minutes:g} min "
            f"(started {datetime.now(UTC):%H:%M:%S} UTC; {common.machine_summary()}) …",
            flush=True,
        )
        since = datetime.now(UTC)
        sampler.started = time.monotonic()
        sampling = threading.Thread(target=sampler.run, daemon=True)
        sampling.start()
        load.run(seconds, args.rate, args.client_threads)
        wall = time.monotonic() - load.started
        time.sleep(max(args.sample_seconds, 5))  # the last jobs (outbox drains) and a sample
        sampler.stop.set()
        sampling.join(60)
        if worker.poll() is not None:
            sampler.problems.append(f"task worker exited with {worker.returncode}")

        print("Checking the ledger, the jobs and the logs …", flush=True)
        ledger = ledger_checks()
        jobs = job_runs(since)
        connection.close()
        for server in (api, mock):
            server.stop()
        stop_process(worker)
        logs = {
            "API": log_errors(api.log_path, since),
            "task worker": log_errors(workdir / "worker.log", since),
            "mock": log_errors(mock.log_path, since),
        }
        context = {
            "outcomes": load.outcomes,
            "samples": sampler.samples,
            "sampler_problems": sampler.problems,
            "wall": wall,
            "logs": logs,
            "jobs": jobs,
            "job_lines": job_lines(workdir / "worker.log"),
            "ledger": ledger,
            "paid_by_load": load.paid,
            "warmup": min(120.0, seconds / 5),
            "window": min(60.0, seconds / 5),
        }
        body, ok = report(args, context)
        header = (
            f"# Soak test results\n\n"
            f"`{' '.join(['python -m bench.soak', *sys.argv[1:]])}`, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {common.machine_summary()}; PostgreSQL "
            f"{common.server_version(postgres.url)}. API: gunicorn.conf.py, {args.workers} "
            f"workers × {args.threads} threads; the mock: 1 worker; one `manage.py worker`.\n\n"
        )
        text = header + body + "\n"
        print()
        print(text)
        if args.results:
            Path(args.results).write_text(text)
        if args.png:
            try:
                bucket = max(5.0, min(30.0, seconds / 20))
                plot(Path(args.png), load.outcomes, sampler.samples, bucket=bucket)
                print(f"Wrote {args.png}")
            except ImportError:
                print("matplotlib is not installed (pip install -e '.[bench]'): no PNG")
        return 0 if ok else 1
    finally:
        if sampler is not None:
            sampler.stop.set()
        stop_process(worker)
        common.tear_down(mock, api, postgres, workdir=workdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers of the API")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--client-threads", type=int, default=32)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--max-growth-mib", type=float, default=10.0)
    parser.add_argument("--max-lag-seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--results", default=str(common.PROJECT_ROOT / "bench/RESULTS-soak.md"))
    parser.add_argument("--png", default=str(common.PROJECT_ROOT / "bench/soak.png"))
    return common.run_until_interrupted(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
