"""Reads from a streaming read replica where a stale-by-a-few-seconds answer is acceptable.

With `DATABASE_REPLICA_URL` set, settings add a `replica` database. Nothing reads from it unless
the code asks: `replica_reads()` opens a scope (the GraphQL view opens one around anonymous
storefront queries and auditors' report queries; the ledger exports pick the alias with
`read_alias()`), and only inside it does `ReplicaRouter.db_for_read` answer `replica`. Everything
else (mutations, signed-in reads, the admin, commands, workers) reads and writes the primary.

Inside a scope the primary still wins when
- the replica is down (a connection or query error) or lags more than REPLICA_MAX_LAG_SECONDS:
  the scope reads the primary and `replica_fallbacks` counts it, by reason;
- the scope has written (a model write through the router, or any INSERT/UPDATE/DELETE on the
  primary's connection): every later read in it goes to the primary, which has the write;
- the primary's connection is in a transaction: a read there may need its uncommitted writes.

The choice is made once, when the scope opens, and holds for the whole scope: the storefront
cache version (catalog/version.py) and the data it stamps must come from the same database, or
a version read on an up-to-date primary could stamp data read from a lagging replica and keep
that old answer cached under a current version.

How lag is measured, on the replica, in one query: zero when it has replayed everything it has
received (`pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()`), otherwise the age of the
last transaction it replayed (`pg_last_xact_replay_timestamp()`), which over-states the lag
after an idle spell (safe: it falls back sooner, never later). Not in recovery (a promoted
replica) counts as no lag. A replica that cannot be reached is not tried again for
REPLICA_RETRY_SECONDS, so an outage costs one failed connection per process per interval, not
one per request.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

from shop.core.metrics import REPLICA_FALLBACKS

logger = logging.getLogger("shop.db")

REPLICA = "replica"
PRIMARY = "default"

# Reasons a scope that asked for the replica read the primary instead.
DOWN = "down"
LAGGING = "lagging"

_LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
  ELSE COALESCE(
    EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()),
    'Infinity'::float8)
END
"""
_WRITE_SQL = re.compile(
    r"\s*(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|ALTER|DROP|SELECT\b.*\bFOR\s+UPDATE)",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class _Scope:
    alias: str
    wrote: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("shanhai_replica_scope", default=None)


@dataclass
class _Counter:
    """A process-wide counter by reason (read by the /metrics endpoint)."""

    counts: dict[str, int] = field(default_factory=lambda: {DOWN: 0, LAGGING: 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, reason: str) -> None:
        with self.lock:
            self.counts[reason] = self.counts.get(reason, 0) + 1


_fallbacks = _Counter()
_state_lock = threading.Lock()
_down_until = 0.0  # monotonic time before which the replica is not tried again
_last_reason: str | None = None  # for logging only state changes, not every request


def replica_fallbacks() -> int:
    """How many replica scopes in this process read the primary instead (all reasons)."""
    with _fallbacks.lock:
        return sum(_fallbacks.counts.values())


def replica_fallbacks_by_reason() -> dict[str, int]:
    """The same count by reason: `down` (unreachable) and `lagging` (over the limit)."""
    with _fallbacks.lock:
        return dict(_fallbacks.counts)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_lag_seconds() -> float:
    """The replica's lag as measured here (see the module docstring). Raises DatabaseError
    when it cannot be reached."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(_LAG_SQL)
        return float(cursor.fetchone()[0])


def _note(reason: str | None, detail: str = "") -> None:
    global _last_reason
    if reason != _last_reason:
        if reason is None:
            logger.info("read replica in use again")
        else:
            logger.warning("read replica not used (%s%s); reading the primary", reason, detail)
        _last_reason = reason
    if reason is not None:
        _fallbacks.add(reason)
        REPLICA_FALLBACKS.labels(reason).inc()


def read_alias() -> str:
    """The database a replica-eligible read should use now: `replica` when it is configured,
    reachable and within REPLICA_MAX_LAG_SECONDS, else `default` (counted as a fallback)."""
    global _down_until
    if not replica_configured():
        return PRIMARY
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY  # not a fallback: this read may need the transaction's own writes
    if time.monotonic() < _down_until:
        _note(DOWN)
        return PRIMARY
    try:
        lag = replica_lag_seconds()
    except DatabaseError as error:
        # Drop the broken connection so that the next try opens a new one.
        with contextlib.suppress(DatabaseError):
            connections[REPLICA].close()
        with _state_lock:
            _down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        _note(DOWN, f": {str(error).strip().splitlines()[0] if str(error).strip() else error!r}")
        return PRIMARY
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        _note(LAGGING, f": {lag:.1f} s behind")
        return PRIMARY
    _note(None)
    return REPLICA


@contextlib.contextmanager
def replica_reads() -> Iterator[str]:
    """A scope whose reads go to the replica (chosen once, on entry; see the module docstring).
    Yields the alias chosen. Nested scopes keep the outer one's choice."""
    if _scope.get() is not None:
        yield _scope.get().alias
        return
    token = _scope.set(_Scope(alias=read_alias()))
    try:
        yield _scope.get().alias
    finally:
        _scope.reset(token)


def note_write() -> None:
    """Reads after a write in this scope go to the primary, which has the write."""
    scope = _scope.get()
    if scope is not None:
        scope.wrote = True


def record_primary_writes(execute, sql, params, many, context):
    """An execute wrapper on the primary's connections: any writing statement (including raw
    SQL that never passes the router) ends replica reads in the scope."""
    if isinstance(sql, str) and _scope.get() is not None and _WRITE_SQL.match(sql):
        note_write()
    return execute(sql, params, many, context)


def install(connection: Any, **_kwargs: Any) -> None:
    """`connection_created` receiver: watch the primary's connections for writes."""
    if connection.alias == PRIMARY and record_primary_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(record_primary_writes)


class ReplicaRouter:
    """Reads inside a replica scope go to the scope's database; all else to the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        scope = _scope.get()
        if scope is None or scope.alias != REPLICA or scope.wrote:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        return REPLICA

    def db_for_write(self, model: Any, **hints: Any) -> str:
        note_write()
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica holds the same rows: an object read there may relate to one read here.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA  # a streaming replica is read-only and follows the primary
