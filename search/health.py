"""Readiness checks of search (shop/core/health.py): the engine, when one is configured, and
the age of the outbox of index updates not yet delivered."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from search import conf
from search.models import SearchOutbox
from shop.core import health


def engine_configured() -> bool:
    return conf.backend_path().endswith("ElasticsearchSearchBackend")


def check_engine() -> str:
    from search.backends import get_search_backend

    backend = get_search_backend()
    # shorter than the search timeout: a probe that waits longer than its own timeout fails
    info = backend.client().options(request_timeout=2).info()
    return f"{info.get('cluster_name', '?')} {info.get('version', {}).get('number', '?')}"


def outbox_state() -> tuple[int, float]:
    """(rows waiting, seconds the oldest has waited): also what /metrics reports."""
    oldest = SearchOutbox.objects.order_by("created_at").values_list("created_at", flat=True)
    first = oldest.first()
    age = (timezone.now() - first).total_seconds() if first is not None else 0.0
    return SearchOutbox.objects.count(), max(age, 0.0)


def check_outbox() -> dict:
    """Unhealthy when an update has waited longer than SEARCH_OUTBOX_MAX_AGE_SECONDS (a drain
    normally runs right after the commit, and `search_sync` every minute)."""
    depth, age = outbox_state()
    limit = timedelta(seconds=int(getattr(settings, "SEARCH_OUTBOX_MAX_AGE_SECONDS", 600)))
    if age > limit.total_seconds():
        raise health.CheckFailed(
            f"{depth} index updates waiting; the oldest for {age:.0f} s "
            f"(limit {limit.total_seconds():.0f} s): is `search_sync` running?"
        )
    return {"depth": depth, "oldest_age_seconds": round(age, 1)}


def register_search_checks() -> None:
    health.register("search_engine", check_engine, enabled=engine_configured)
    health.register("search_outbox", check_outbox)
