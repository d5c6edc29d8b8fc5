"""Prometheus metrics, served at `/metrics` (docs/operations.md, "Metrics").

Two kinds:

- Counted per process as requests happen (histograms and counters below). Under gunicorn with
  several workers each worker writes its samples to files in `PROMETHEUS_MULTIPROC_DIR`
  (gunicorn.conf.py sets one up and marks exited workers dead), and a scrape of any worker
  adds up all of them. Without that variable (runserver, tests) they live in this process.
- Read from the database at scrape time (`DatabaseCollector`): search fallbacks and index
  failures (already counted in the database by search/metrics.py, shared by every process),
  the search outbox, payments pending, the ledger's size and its last checkpoint's age. These
  are the same whichever worker answers, so they are never summed across workers.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric

GRAPHQL_DURATION = Histogram(
    "shanhai_graphql_request_duration_seconds",
    "Time to answer a /graphql/ request, by operation name and type.",
    ["operation_name", "operation_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GRAPHQL_REQUESTS = Counter(
    "shanhai_graphql_requests",
    "/graphql/ requests by operation name, type and outcome (ok, or error).",
    ["operation_name", "operation_type", "outcome"],
)
DB_QUERIES = Histogram(
    "shanhai_db_queries_per_request",
    "Database queries run to answer one request (any view), by GraphQL operation type.",
    ["operation_type"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500),
)
RESPONSE_CACHE = Counter(
    "shanhai_response_cache_lookups",
    "Storefront response cache lookups (cacheable anonymous queries): hit or miss.",
    ["result"],
)
CHECKOUT_CONFLICTS = Counter(
    "shanhai_checkout_conflicts",
    "Checkout lines refused because the stock was no longer there (oversell refusals).",
    ["code"],
)

REPLICA_FALLBACKS = Counter(
    "shanhai_replica_fallbacks",
    "Reads meant for the read replica that went to the primary, by reason (down, lagging).",
    ["reason"],
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_seen_names: set[str] = set()
_seen_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """A label value for a client-chosen operation name. Names are bounded per process
    (METRICS_MAX_OPERATION_NAMES, 200 by default): past that, new ones count as `other`, so a
    client sending random names cannot grow the metrics without end."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "other"
    with _seen_lock:
        if name in _seen_names:
            return name
        if len(_seen_names) >= int(getattr(settings, "METRICS_MAX_OPERATION_NAMES", 200)):
            return "other"
        _seen_names.add(name)
    return name


def observe_graphql(
    operation_name: str | None, operation_type: str, outcome: str, seconds: float
) -> None:
    name = operation_label(operation_name)
    GRAPHQL_DURATION.labels(name, operation_type).observe(seconds)
    GRAPHQL_REQUESTS.labels(name, operation_type, outcome).inc()


def count_checkout_conflicts(codes: list[str]) -> None:
    for code in codes:
        CHECKOUT_CONFLICTS.labels(code).inc()


# --- Read at scrape time -----------------------------------------------------------------


# Apps add their figures read at scrape time (search: its outbox; procurement: payments and the
# ledger's transparency log) from AppConfig.ready(), so this base module imports neither.
_database_sources: list[tuple[bool, Callable[[], Iterable[Metric]]]] = []


def register_database_metrics(
    source: Callable[[], Iterable[Metric]], *, before_jobs: bool = False
) -> None:
    """Add `source() -> metric families`, read from the database at each scrape; idempotent
    per function. `before_jobs` keeps the exposition's order (search's figures come first)."""
    if all(registered is not source for _, registered in _database_sources):
        _database_sources.append((before_jobs, source))


def _sources(*, before_jobs: bool) -> list[Callable[[], Iterable[Metric]]]:
    return [source for first, source in _database_sources if first == before_jobs]


def age_seconds(moment) -> float:
    return max((timezone.now() - moment).total_seconds(), 0.0) if moment else 0.0


class DatabaseCollector:
    """Gauges (and the database-held counters) computed from the database per scrape: a
    handful of indexed reads. A database that fails makes `shanhai_metrics_database_up` 0
    instead of failing the scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "shanhai_metrics_database_up", "1 if the scrape could read the database's figures."
        )
        try:
            metrics = list(self._from_database())
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _from_database(self) -> Iterator[Metric]:
        from shop.core import jobs

        for source in _sources(before_jobs=True):
            yield from source()
        if jobs.uses_worker():
            queue = jobs.queue_state()
            for name, help_text, value in (
                ("task_queue_due", "Background jobs due and not yet started.", queue.due),
                (
                    "task_queue_oldest_due_age_seconds",
                    "How long the oldest due job has waited (0 when none).",
                    queue.oldest_due_age_seconds,
                ),
                ("task_queue_running", "Background jobs running now.", queue.running),
                ("task_queue_failed", "Jobs that failed their last attempt.", queue.failed),
                ("task_workers_alive", "Workers whose heartbeat is fresh.", queue.live_workers),
            ):
                yield GaugeMetricFamily(f"shanhai_{name}", help_text, value=value)

        for source in _sources(before_jobs=False):
            yield from source()


class _ThisProcess:
    """This process's own metrics (the default registry) when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


# --- Who may read them -------------------------------------------------------------------


def _allowed_networks() -> list:
    networks = list(getattr(settings, "METRICS_ALLOWED_NETWORKS", []))
    if settings.DEBUG:
        networks += ["127.0.0.0/8", "::1/128"]
    return [ipaddress.ip_network(network, strict=False) for network in networks]


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read /metrics, else the answer refusing it.

    With METRICS_TOKEN set, `Authorization: Bearer <token>` is required (from anywhere).
    Without it, only direct connections from METRICS_ALLOWED_NETWORKS (plus loopback in
    DEBUG) are served: a request carrying X-Forwarded-For or Forwarded came through a proxy,
    whose own address says nothing about the client, so it is refused."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return None
        response = _json_refusal(401, "A bearer token (METRICS_TOKEN) is required.")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    proxied = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    if (
        not proxied
        and address is not None
        and any(address in network for network in _allowed_networks())
    ):
        return None
    return _json_refusal(
        403, "Metrics are served to METRICS_ALLOWED_NETWORKS or with METRICS_TOKEN only."
    )


def _json_refusal(status: int, message: str) -> HttpResponse:
    import json

    return HttpResponse(
        json.dumps({"error": message}), status=status, content_type="application/json"
    )


def metrics_response(request: HttpRequest) -> HttpResponse:
    refused = refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
