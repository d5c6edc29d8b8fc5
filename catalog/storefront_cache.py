"""Which GraphQL reads the response cache may answer, and the part of their key that changes
whenever their answer can (the catalog version and the business date).

Only the storefront: anonymous reads of the fields below, which show the same to everyone.
Anything else (a signed-in caller, a mutation, `me`, `orders`...) is never cached; the view
checks the caller and the operation, this module the fields.
"""

from __future__ import annotations

from graphql import FieldNode

from catalog import selectors, version

STOREFRONT_FIELDS = frozenset(
    {
        "products",
        "product",
        "categories",
        "origins",
        "cities",
        "search",
        "searchSuggestions",
        "recommendedCatalog",
        "traceBatch",
        "__typename",
    }
)
SEARCH_FIELDS = frozenset({"search", "searchSuggestions"})


def _uses_search(field: FieldNode) -> bool:
    if field.name.value in SEARCH_FIELDS:
        return True
    # `products(search: ...)` is answered by the search backend too.
    return field.name.value == "products" and any(
        argument.name.value == "search" for argument in field.arguments or ()
    )


def search_is_current_at_commit() -> bool:
    """Whether a search answers from what is committed. The database backend's index is
    rewritten in the transaction that empties the outbox (which bumps the version); an engine
    shows new documents only after its refresh interval unless SEARCH_ENGINE_REFRESH makes each
    update wait for it, and an answer cached in that interval would outlive it."""
    from search import conf
    from search.backends import get_search_backend
    from search.backends.database import DatabaseSearchBackend

    return isinstance(get_search_backend(), DatabaseSearchBackend) or conf.engine_refresh()


def scope(root_fields: list[FieldNode]) -> str | None:
    """The version part of the cache key for an anonymous query selecting `root_fields`, or
    None when its answer must not be cached. Read before the query runs: the data it then reads
    is at least as new as this version."""
    if not root_fields or any(f.name.value not in STOREFRONT_FIELDS for f in root_fields):
        return None
    if any(_uses_search(f) for f in root_fields) and not search_is_current_at_commit():
        return None
    # The business date: certifications and GI authorisations expire by date, with no write.
    return f"{version.current()}@{selectors.today().isoformat()}"
