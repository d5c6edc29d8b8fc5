"""The catalog version: a number that changes in the same transaction as anything the storefront
can show, so that a response cached under one version can never be served after such a change.

Every INSERT, UPDATE or DELETE of a storefront table (every catalog table, and the search index
and outbox, whose rows decide what a search answers) is followed, on the same connection and in
the same transaction, by `UPDATE catalog_catalogversion SET value = value + 1` (a write outside
any transaction is wrapped in one with its bump). The hook sits on the database connection, not
in the services, so nothing can forget it: services, the admin, checkout's stock moves,
`catalog_rules`, `bulk_update`, raw SQL all pass through it.

Why in the transaction, not `transaction.on_commit`: with on_commit the data is visible from the
commit on but the version changes only afterwards (or never, if the process dies in between).
A reader that read the old version just before the commit and the old data, and stores its
answer after the commit, has put old data under the version that is still current: it is served
until the bump, or forever if the bump is lost. In the transaction, the commit makes the data and
the new version visible at once; a reader reads the version first and the data after (read
committed), so what it caches under version v is at least as new as v, and nobody reads v once
a later commit exists.

The cost is a row lock on one counter until commit; writers are spread over `STRIPES` rows (each
connection always uses the same one, so a transaction holds at most one and two counters never
deadlock) and the version is their sum, which every commit increases.
"""

from __future__ import annotations

import os
import re
import threading
from functools import cache
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import F, Sum

STRIPES = 64
_WRITE = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[\"`]?(\w+)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
# The search index and the operators' synonym rules change what `search` answers.
_OTHER_STOREFRONT_TABLES = (
    "search_productsearchentry",
    "search_searchoutbox",
    "search_synonymrule",
)
_paused = threading.local()  # migrations run before the version table exists


@cache
def storefront_tables() -> frozenset[str]:
    from catalog.models import CatalogVersion

    tables = {
        model._meta.db_table
        for model in apps.get_app_config("catalog").get_models()
        if model is not CatalogVersion and not model._meta.proxy
    }
    return frozenset(tables | set(_OTHER_STOREFRONT_TABLES))


def _stripe(connection: Any) -> int:
    stripe = getattr(connection, "_catalog_version_stripe", None)
    if stripe is None:
        stripe = hash((os.getpid(), threading.get_ident(), id(connection))) % STRIPES
        connection._catalog_version_stripe = stripe
    return stripe


def bump(using: str = "default") -> None:
    """Change the version, in the caller's transaction."""
    from django.db import connections

    from catalog.models import CatalogVersion

    stripe = _stripe(connections[using])
    rows = CatalogVersion.objects.using(using).filter(stripe=stripe)
    if not rows.update(value=F("value") + 1):
        # First bump of this stripe (or after a flush): create it, racing others harmlessly.
        CatalogVersion.objects.using(using).bulk_create(
            [CatalogVersion(stripe=stripe, value=0)], ignore_conflicts=True
        )
        rows.update(value=F("value") + 1)


def with_bump(sql: str, params: list[Any], using: str = "default") -> tuple[str, list[Any]]:
    """`sql`, one write of storefront tables, with the bump in the same statement (a
    data-modifying WITH, run after the write): for a hot write that is its transaction's last
    statement (checkout's stock), where the separate bump would keep the written rows locked
    one more round trip. The hook leaves statements that start with WITH alone, so the version
    moves once. PostgreSQL only (SQLite's WITH cannot hold an INSERT)."""
    from django.db import connections

    stripe = _stripe(connections[using])
    return (
        "WITH catalog_version_bump AS (INSERT INTO catalog_catalogversion (stripe, value) "
        "VALUES (%s, 1) ON CONFLICT (stripe) DO UPDATE "
        "SET value = catalog_catalogversion.value + 1) " + sql,
        [stripe, *params],
    )


def current(using: str | None = None) -> int:
    """The version now (one query). Read it before the data it is to describe, and from the
    database that data comes from: by default the router's choice for reads, which inside a
    replica scope (shop/core/db_router.py) is the replica. A version read on the primary could
    be newer than a lagging replica's data, and would stamp that old data as current."""
    from catalog.models import CatalogVersion

    total = CatalogVersion.objects.using(using).aggregate(total=Sum("value"))["total"]
    return total or 0


def bump_after_storefront_writes(execute, sql, params, many, context):
    """A connection execute wrapper: see the module's docstring."""
    match = _WRITE.match(sql) if isinstance(sql, str) else None
    if match is None or getattr(_paused, "on", False) or match[1] not in storefront_tables():
        return execute(sql, params, many, context)
    connection = context["connection"]
    if connection.in_atomic_block:
        result = execute(sql, params, many, context)
        bump(connection.alias)
        return result
    if connection.vendor == "sqlite" and _RETURNING.search(sql):
        # SQLite cannot commit while the caller has yet to read the RETURNING rows, so this
        # write cannot share a transaction with its bump: bump on both sides instead. Only
        # writes outside any transaction get here (a shell, test factories); every service,
        # mutation, admin change and command writes inside one.
        bump(connection.alias)
        result = execute(sql, params, many, context)
        bump(connection.alias)
        return result
    with transaction.atomic(using=connection.alias):  # autocommit: the write and its bump
        result = execute(sql, params, many, context)
        bump(connection.alias)
    return result


def install(connection: Any, **_kwargs: Any) -> None:
    """`connection_created` receiver: hook every new database connection."""
    if bump_after_storefront_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(bump_after_storefront_writes)


def pause_for_migrations(**_kwargs: Any) -> None:
    _paused.on = True


def resume_after_migrations(using: str = "default", **_kwargs: Any) -> None:
    """Migrations may have changed the catalog (reference data): one bump covers them all."""
    if getattr(_paused, "on", False):
        _paused.on = False
        bump(using)
