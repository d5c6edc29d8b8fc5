"""Liveness and readiness: `/healthz` and `/readyz` (docs/operations.md, "Health").

`/healthz` answers 200 as long as the process can answer at all; it touches nothing else, so a
database outage never makes an orchestrator restart healthy app processes.

`/readyz` runs every registered check and answers 200 or 503 with one entry per check:

    {"status": "ok" | "degraded" | "unavailable",
     "checks": [{"name": "database", "ok": true, "critical": true, "latency_ms": 0.8,
                 "detail": "..."}, {"name": "cache", "ok": false, "critical": false,
                 "latency_ms": 2.1, "error": "ConnectionError: ..."}]}

Only a failing *critical* check (`READYZ_CRITICAL_CHECKS`, by default the database and pending
migrations) makes it 503: the cache, the search engine and queue lag have fallbacks or catch up,
and taking every app process out of the load balancer because a shared dependency is slow
would turn a degraded service into none. They show `ok: false` and `"status": "degraded"`.

Other apps add checks with `register` (at import or in `AppConfig.ready`):

    from shop.core import health

    @health.register("task_queue_lag")
    def task_queue_lag() -> str:
        ...  # raise health.CheckFailed("oldest job waited 340 s") when unhealthy
        return "oldest job waited 3 s"

A check returns a short detail (or None) when healthy and raises when not; the exception's
message (shortened) is the entry's `error`. Checks must be quick and must not write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

Check = Callable[[], Any]


class CheckFailed(Exception):
    """A check's verdict that something is unhealthy (rather than an error running it)."""


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    function: Check
    # None: always runs; else runs only when it returns True (e.g. a search engine is configured)
    enabled: Callable[[], bool] | None = None


_registry: dict[str, RegisteredCheck] = {}
_lock = threading.Lock()


def register(
    name: str,
    function: Check | None = None,
    *,
    enabled: Callable[[], bool] | None = None,
    replace: bool = False,
) -> Any:
    """Add the check called `name`. Usable as `register("x", fn)` or as a decorator
    `@register("x")`. `enabled` decides per run whether the check applies.

    A second check under a name already taken is a mistake (and would silently drop the
    first check, as happened when a test borrowed `task_queue_lag`), so it raises unless
    `replace=True` says the replacement is meant."""

    def add(fn: Check) -> Check:
        with _lock:
            if name in _registry and not replace:
                raise ValueError(f"a readiness check called {name!r} is already registered")
            _registry[name] = RegisteredCheck(name, fn, enabled)
        return fn

    return add(function) if function is not None else add


def unregister(name: str) -> None:
    with _lock:
        _registry.pop(name, None)


def registered() -> list[str]:
    return sorted(_registry)


def critical_checks() -> frozenset[str]:
    return frozenset(getattr(settings, "READYZ_CRITICAL_CHECKS", ("database", "migrations")))


def _error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, CheckFailed):
        return text[:300]
    return f"{type(error).__name__}: {text}"[:300]


def run_checks() -> tuple[str, list[dict[str, Any]]]:
    """(status, entries): every applicable check, in name order, timed."""
    critical = critical_checks()
    with _lock:
        checks = sorted(_registry.values(), key=lambda check: check.name)
    entries: list[dict[str, Any]] = []
    status = "ok"
    for check in checks:
        try:
            if check.enabled is not None and not check.enabled():
                continue
        except Exception:  # noqa: S112 - a broken switch means "not applicable", not a crash
            continue
        entry: dict[str, Any] = {"name": check.name, "critical": check.name in critical}
        started = time.perf_counter()
        try:
            detail = check.function()
        except Exception as error:  # every failure is an answer, never a 500
            entry["ok"] = False
            entry["error"] = _error_text(error)
        else:
            entry["ok"] = True
            if detail is not None:
                entry["detail"] = detail
        entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        entries.append(entry)
        if not entry["ok"]:
            status = "unavailable" if entry["critical"] else max(status, "degraded", key=_rank)
    return status, entries


def _rank(status: str) -> int:
    return {"ok": 0, "degraded": 1, "unavailable": 2}[status]


# --- The core checks (registered by CoreConfig.ready) --------------------------------------


def check_database() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    """A round trip through the default cache (local memory, or the shared Redis)."""
    import uuid

    from django.core.cache import caches

    cache = caches["default"]
    key = f"shanhai:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    try:
        if cache.get(key) != "1":
            raise CheckFailed("the cache did not return what was just stored")
    finally:
        cache.delete(key)
    return cache.__class__.__name__


_migrations_applied = False


def check_migrations() -> str:
    """Migrations this code has that the database has not. Once none are pending the answer is
    remembered: this process's code cannot gain migrations (loading the graph costs ~100 ms)."""
    global _migrations_applied
    if _migrations_applied:
        return "none pending"
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
        raise CheckFailed(f"{len(plan)} pending: {names}{more}")
    _migrations_applied = True
    return "none pending"


def forget_migrations_state() -> None:
    """For tests that unapply migrations."""
    global _migrations_applied
    _migrations_applied = False


def check_replica() -> str:
    """The read replica answers and is within REPLICA_MAX_LAG_SECONDS (reads fall back to the
    primary otherwise, so this is not critical by default)."""
    from django.conf import settings

    from shop.core import db_router

    lag = db_router.replica_lag_seconds()
    limit = float(settings.REPLICA_MAX_LAG_SECONDS)
    if lag > limit:
        raise CheckFailed(f"lag {lag:.1f} s over the {limit:g} s limit; reads use the primary")
    return f"lag {lag:.1f} s"


def check_task_queue() -> dict[str, Any]:
    """Jobs wait no longer than JOBS_MAX_LAG_SECONDS and, when jobs are due, some worker is
    alive (with the database backend; the immediate backend has no queue)."""
    from shop.core import jobs

    state = jobs.queue_state()
    detail = {
        "due": state.due,
        "oldest_due_age_seconds": round(state.oldest_due_age_seconds, 1),
        "running": state.running,
        "failed": state.failed,
        "live_workers": state.live_workers,
    }
    if state.due and not state.live_workers:
        raise CheckFailed(f"{state.due} jobs due and no live worker (run `manage.py worker`)")
    limit = float(settings.JOBS_MAX_LAG_SECONDS)
    if state.oldest_due_age_seconds > limit:
        raise CheckFailed(
            f"the oldest due job has waited {state.oldest_due_age_seconds:.0f} s "
            f"(limit {limit:g} s); {state.live_workers} live workers"
        )
    return detail


def register_core_checks() -> None:
    from shop.core import db_router, jobs

    register("database", check_database)
    register("replica", check_replica, enabled=db_router.replica_configured)
    register("cache", check_cache)
    register("migrations", check_migrations)
    register("task_queue_lag", check_task_queue, enabled=jobs.uses_worker)
