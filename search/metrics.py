"""Counters of search trouble, shared by every process (rows of `SearchCounter`).

- `FALLBACKS`: searches the engine could not answer, answered from the database instead;
- `INDEX_FAILURES`: outbox batches the engine refused or could not take (retried later).

`increment` never raises: a counter must not break the search it counts.
"""

import logging

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from search.models import SearchCounter

FALLBACKS = "search_fallbacks"
INDEX_FAILURES = "index_failures"
COUNTERS = (FALLBACKS, INDEX_FAILURES)

logger = logging.getLogger(__name__)


def increment(name: str, detail: str = "") -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = SearchCounter.objects.filter(name=name).update(
                value=F("value") + 1, updated_at=now, detail=detail[:2000]
            )
            if not updated:
                SearchCounter.objects.get_or_create(
                    name=name, defaults={"value": 1, "updated_at": now, "detail": detail[:2000]}
                )
    except DatabaseError:
        logger.exception("could not count %s", name)


def snapshot() -> dict[str, dict]:
    """`{name: {"value", "updated_at", "detail"}}` for every known counter (0 if never hit)."""
    rows = {row.name: row for row in SearchCounter.objects.filter(name__in=COUNTERS)}
    return {
        name: {
            "value": rows[name].value if name in rows else 0,
            "updated_at": rows[name].updated_at if name in rows else None,
            "detail": rows[name].detail if name in rows else "",
        }
        for name in COUNTERS
    }


def value(name: str) -> int:
    row = SearchCounter.objects.filter(name=name).first()
    return row.value if row else 0
