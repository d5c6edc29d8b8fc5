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

Stock apart: an UPDATE of `catalog_productvariant` that sets only `stock` (a checkout, a
cancellation, a supplier's stock count) bumps the *stock* counter of the same stripe row instead
(so still one row lock per transaction). Names, prices and images do not change with it, so a
cached listing keyed on the catalog version survives checkouts and has its stock values read
fresh when the stock version moved (catalog/storefront_cache.py). Anything the parser below is
not sure of is a catalog change: a wrong guess that way costs hit ratio, never freshness.
"""

from __future__ import annotations

import os
import re
import threading
from functools import cache
from typing import Any, NamedTuple

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
_UPDATE_SET = re.compile(
    r'\s*UPDATE\s+(?:ONLY\s+)?"?(\w+)"?(?:\s+(?:AS\s+)?"?(\w+)"?)?\s+SET\s', re.IGNORECASE
)
_ASSIGNED = re.compile(r'\s*"?(\w+)"?\s*=(?!=)')
_SET_ENDS = re.compile(r"(?:FROM|WHERE|RETURNING)\b", re.IGNORECASE)
# Columns whose change only the stock version records: nothing else on the storefront reads them.
STOCK_COLUMNS = {"catalog_productvariant": frozenset({"stock"})}
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


def _assigned_columns(sql: str, start: int) -> list[str] | None:
    """The columns an UPDATE's SET list (from `start`) assigns, or None when unsure: the list
    ends at FROM/WHERE/RETURNING outside parentheses and quotes, items are `column = ...`."""
    items, depth, quote, item_start, i = [], 0, None, start, start
    while i < len(sql):
        char = sql[i]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and char == ",":
            items.append(sql[item_start:i])
            item_start = i + 1
        elif depth == 0 and sql[i - 1] in " \n\t)" and _SET_ENDS.match(sql, i):
            break
        i += 1
    items.append(sql[item_start:i])
    columns = [_ASSIGNED.match(item) for item in items]
    return None if quote or depth or None in columns else [m[1] for m in columns]


def is_stock_only(sql: str) -> bool:
    """Whether this statement is an UPDATE that sets nothing but stock columns."""
    match = _UPDATE_SET.match(sql)
    if match is None or match[2] and match[2].upper() == "SET":
        return False
    stock = STOCK_COLUMNS.get(match[1])
    columns = _assigned_columns(sql, match.end()) if stock else None
    return bool(columns) and stock.issuperset(columns)


def bump(using: str = "default", *, stock: bool = False) -> None:
    """Change the version (the stock version when `stock`), in the caller's transaction."""
    from django.db import connections

    from catalog.models import CatalogVersion

    stripe = _stripe(connections[using])
    counter = "stock" if stock else "value"
    rows = CatalogVersion.objects.using(using).filter(stripe=stripe)
    if not rows.update(**{counter: F(counter) + 1}):
        # First bump of this stripe (or after a flush): create it, racing others harmlessly.
        CatalogVersion.objects.using(using).bulk_create(
            [CatalogVersion(stripe=stripe, value=0)], ignore_conflicts=True
        )
        rows.update(**{counter: F(counter) + 1})


def with_bump(sql: str, params: list[Any], using: str = "default") -> tuple[str, list[Any]]:
    """`sql`, a stock-only write (checkout's stock take), with the stock version's bump in the
    same statement (a data-modifying WITH, run after the write): for a hot write that is its
    transaction's last statement, where the separate bump would keep the written rows locked
    one more round trip. The hook leaves statements that start with WITH alone, so the version
    moves once. PostgreSQL only (SQLite's WITH cannot hold an INSERT)."""
    from django.db import connections

    stripe = _stripe(connections[using])
    return (
        "WITH catalog_version_bump AS (INSERT INTO catalog_catalogversion (stripe, value, stock) "
        "VALUES (%s, 0, 1) ON CONFLICT (stripe) DO UPDATE "
        "SET stock = catalog_catalogversion.stock + 1) " + sql,
        [stripe, *params],
    )


class Versions(NamedTuple):
    catalog: int  # every storefront change but stock-only ones
    stock: int


def current(using: str | None = None) -> Versions:
    """Both versions now (one query). Read them before the data they are to describe, and from
    the database that data comes from: by default the router's choice for reads, which inside a
    replica scope (shop/core/db_router.py) is the replica. A version read on the primary could
    be newer than a lagging replica's data, and would stamp that old data as current."""
    from catalog.models import CatalogVersion

    totals = CatalogVersion.objects.using(using).aggregate(catalog=Sum("value"), stock=Sum("stock"))
    return Versions(totals["catalog"] or 0, totals["stock"] or 0)


def bump_after_storefront_writes(execute, sql, params, many, context):
    """A connection execute wrapper: see the module's docstring."""
    match = _WRITE.match(sql) if isinstance(sql, str) else None
    if match is None or getattr(_paused, "on", False) or match[1] not in storefront_tables():
        return execute(sql, params, many, context)
    connection = context["connection"]
    stock = is_stock_only(sql)
    if connection.in_atomic_block:
        result = execute(sql, params, many, context)
        bump(connection.alias, stock=stock)
        return result
    if connection.vendor == "sqlite" and _RETURNING.search(sql):
        # SQLite cannot commit while the caller has yet to read the RETURNING rows, so this
        # write cannot share a transaction with its bump: bump on both sides instead. Only
        # writes outside any transaction get here (a shell, test factories); every service,
        # mutation, admin change and command writes inside one.
        bump(connection.alias, stock=stock)
        result = execute(sql, params, many, context)
        bump(connection.alias, stock=stock)
        return result
    with transaction.atomic(using=connection.alias):  # autocommit: the write and its bump
        result = execute(sql, params, many, context)
        bump(connection.alias, stock=stock)
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
