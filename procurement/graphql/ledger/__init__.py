"""Auditor queries and operator mutations of the contribution ledger (docs/design.md §4):
types, queries and mutations in modules of their own."""

from procurement.graphql.ledger.mutations import LedgerMutations
from procurement.graphql.ledger.queries import LedgerQueries

__all__ = ["LedgerMutations", "LedgerQueries"]
