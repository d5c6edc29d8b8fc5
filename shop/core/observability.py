"""The operations endpoints (/healthz, /readyz, /metrics) and, for every other request, one
log line and its metrics (docs/operations.md).

`ObservabilityMiddleware` sits right after RequestIdMiddleware: it answers the three endpoints
itself, before the host check and the HTTPS redirect (probes and scrapers address a pod by IP,
over plain HTTP), and for other requests counts database queries, times the request and logs
`shanhai.requests` with only these fields: request id, method, path (never the query string:
a GET's variables may hold personal data), status, GraphQL operation name and type, the
caller's role, duration, query count, response cache state and outcome (`ok` or the error
codes). Never a variable, a header, a message text or a body.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from shop.core import health, metrics

logger = logging.getLogger("shanhai.requests")

HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"


@dataclass
class RequestRecord:
    """What the layers below learn about a request, for its log line and metrics."""

    operation_name: str | None = None
    operation_type: str | None = None
    error_codes: list[str] = field(default_factory=list)
    queries: int = 0


_record: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "request_record", default=None
)


@dataclass
class QueryCount:
    queries: int = 0


@contextmanager
def count_queries() -> Iterator[QueryCount]:
    """Counts the statements this thread sends to every database inside the block (a request's,
    a job's), for their log line and metrics."""
    counted = QueryCount()

    def count(execute, sql, params, many, context):
        counted.queries += 1
        return execute(sql, params, many, context)

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(count))
        yield counted


def note_operation(name: str | None, operation_type: str) -> None:
    record = _record.get()
    if record is not None:
        record.operation_name, record.operation_type = name, operation_type


def note_error(code: str | None) -> None:
    """An error code the request answered with (top-level or in a mutation's payload)."""
    record = _record.get()
    if record is not None and code:
        record.error_codes.append(str(code))


def healthz_response() -> HttpResponse:
    return _json({"status": "ok"}, 200)


def readyz_response(request: HttpRequest) -> HttpResponse:
    """Errors and details name hosts, ports and migrations: shown to whoever may read
    /metrics (METRICS_TOKEN or METRICS_ALLOWED_NETWORKS); anyone else (a public load
    balancer's health check, say) sees each check's name, outcome and latency only."""
    status, checks = health.run_checks()
    if metrics.refusal(request) is not None:
        checks = [
            {key: value for key, value in check.items() if key not in ("detail", "error")}
            for check in checks
        ]
    return _json({"status": status, "checks": checks}, 503 if status == "unavailable" else 200)


def _json(body: dict, status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _role(request: HttpRequest) -> str:
    user = request.__dict__.get("user")
    if user is None:
        return "-"
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return "-"  # never loaded (no view needed it): not worth a session query to log it
    if not getattr(user, "is_authenticated", False):
        return "anonymous"
    return str(getattr(user, "role", "") or "user")


class ObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/") or "/"
        if path == HEALTHZ:
            return healthz_response()
        if path == READYZ:
            return readyz_response(request)
        if path == METRICS:
            return metrics.metrics_response(request)
        return self._observed(request)

    def _observed(self, request: HttpRequest) -> HttpResponse:
        record = RequestRecord()
        token = _record.set(record)
        started = time.perf_counter()
        status = 500
        counted = QueryCount()
        try:
            with count_queries() as counted:
                response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            seconds = time.perf_counter() - started
            _record.reset(token)
            record.queries = counted.queries
            self._report(request, record, status, seconds)

    @staticmethod
    def _report(request: HttpRequest, record: RequestRecord, status: int, seconds: float) -> None:
        is_graphql = record.operation_type is not None or request.path_info.startswith("/graphql")
        codes = sorted(set(record.error_codes))
        if not codes and status >= 500:
            codes = ["INTERNAL_SERVER_ERROR"]
        elif not codes and status >= 400:
            codes = [f"HTTP_{status}"]
        outcome = "ok" if not codes else "error"
        operation_type = record.operation_type or ("unknown" if is_graphql else "none")
        try:
            metrics.DB_QUERIES.labels(operation_type).observe(record.queries)
            if is_graphql:
                metrics.observe_graphql(record.operation_name, operation_type, outcome, seconds)
        except Exception:  # metrics must never fail a request
            logging.getLogger(__name__).exception("could not record request metrics")
        logger.info(
            "%s %s %s %s %s role=%s %.1f ms queries=%d %s",
            request.method,
            request.path_info,
            status,
            operation_type,
            metrics.operation_label(record.operation_name) if record.operation_name else "-",
            _role(request),
            seconds * 1000,
            record.queries,
            outcome if not codes else ",".join(codes),
            extra={
                "method": request.method,
                "path": request.path_info,
                "status": status,
                "operation_name": record.operation_name
                and metrics.operation_label(record.operation_name),
                "operation_type": record.operation_type,
                "role": _role(request),
                "duration_ms": round(seconds * 1000, 2),
                "db_queries": record.queries,
                "response_cache": getattr(request, "graphql_response_cache", None),
                "outcome": "ok" if not codes else codes,
            },
        )
