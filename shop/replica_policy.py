"""Which GraphQL queries may be answered from the read replica (GRAPHQL_REPLICA_POLICY).

Only reads where an answer a few seconds old (at most REPLICA_MAX_LAG_SECONDS) is acceptable and
nobody expects to see a write of their own: anonymous storefront queries (the same fields the
response cache serves) and auditors' reports over the ledger, which auditors only read. A query
that asks for anything else as well reads the primary.
"""

from __future__ import annotations

from typing import Any

from catalog.storefront_cache import STOREFRONT_FIELDS
from shop.accounts.models import Role

AUDITOR_REPORT_FIELDS = frozenset(
    {
        "contributionSummary",
        "contributions",
        "targetProgress",
        "targets",
        "targetCoverage",
        "__typename",
    }
)


def may_read_from_replica(user: Any, fields: frozenset[str]) -> bool:
    """Whether a query by `user` selecting the root `fields` may read from the replica."""
    if not fields:
        return False
    if not user.is_authenticated:
        return fields <= STOREFRONT_FIELDS
    return user.role == Role.AUDITOR and fields <= AUDITOR_REPORT_FIELDS
