"""Which GraphQL reads the response cache may answer, and the part of their key that changes
whenever their answer can (the catalog version and the business date).

Stock is a live value (shop/core/graphql/response_cache.py): checkouts move it all the time and
it changes nothing else on a product, so it has its own version (catalog/version.py). A cached
answer is keyed on the catalog version only and its variants' `quantityAvailable` and `inStock`
are read again (one query for the answer's variants) when the stock version moved. Where stock
decides *which* rows an answer holds (a search, which filters and ranks by live stock; an
`inStock` filter), the stock version is part of the key instead.

Only the storefront: anonymous reads of the fields below, which show the same to everyone.
Anything else (a signed-in caller, a mutation, `me`, `orders`...) is never cached; the view
checks the caller and the operation, this module the fields.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from graphql import FieldNode, ObjectFieldNode, Visitor, visit

from catalog import hooks, selectors, version
from shop.core.graphql.response_cache import Scope, Slot

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


class _FindsInStock(Visitor):
    found = False

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        self.found = self.found or node.name.value == "inStock"


@lru_cache(maxsize=512)
def _filters_on_stock_in_text(field: FieldNode) -> bool:
    # Field nodes belong to the remembered documents (one per query text): run once each.
    finder = _FindsInStock()
    visit(field, finder)
    return finder.found


def _mentions_in_stock(value: Any) -> bool:
    if isinstance(value, dict):
        return "inStock" in value or any(_mentions_in_stock(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_in_stock(v) for v in value)
    return False


def _stock_decides_rows(root_fields: list[FieldNode], variables: dict | None) -> bool:
    """Whether stock may decide which rows the answer holds, not only the values shown:
    searches (live stock in their filters and ranking) and `inStock` filters."""
    return any(
        _uses_search(f) or _filters_on_stock_in_text(f) for f in root_fields
    ) or _mentions_in_stock(variables)


def refresh_stock(data: dict, slots: list[Slot]) -> None:
    """Write the variants' stock now into a cached answer: one query for all its slots.
    A slot is [path, variant id, None] for `quantityAvailable`, [path, variant id, minimum
    order quantity] for `inStock` (the minimum is catalog data: keyed, never refreshed)."""
    from catalog.models import ProductVariant

    ids = {variant_id for _path, variant_id, _minimum in slots}
    stock = dict(ProductVariant.objects.filter(pk__in=ids).values_list("pk", "stock"))
    for path, variant_id, minimum in slots:
        target = data["data"]
        for step in path[:-1]:
            target = target[step]
        # A variant cannot be gone: deleting one changes the catalog version, not the stock one.
        now = stock[variant_id]
        target[path[-1]] = now if minimum is None else now >= minimum


def scope(root_fields: list[FieldNode], variables: dict | None = None) -> Scope | None:
    """The version part of the cache key for an anonymous query selecting `root_fields`, or
    None when its answer must not be cached. Read before the query runs: the data it then reads
    is at least as new as these versions."""
    if not root_fields or any(f.name.value not in STOREFRONT_FIELDS for f in root_fields):
        return None
    if any(_uses_search(f) for f in root_fields) and not hooks.search_is_current_at_commit():
        return None
    versions = version.current()
    # The business date: certifications and GI authorisations expire by date, with no write.
    day = selectors.today().isoformat()
    if _stock_decides_rows(root_fields, variables):
        return Scope(f"c{versions.catalog}s{versions.stock}@{day}")
    # (The "c" prefix keeps these keys apart from entries of the shape before live values.)
    return Scope(f"c{versions.catalog}@{day}", live=versions.stock, refresh=refresh_stock)
