"""Storefront search on the configured backend, as Product objects in backend order.

`SearchResultList` is a lazy, sliceable stand-in for a queryset, so `products(search: ...)`
keeps using the shared connection code (`count()`, then one slice): the count and the page are
one backend call each, and the page's products are loaded in one query.
"""

from __future__ import annotations

from dataclasses import replace

from catalog import selectors
from catalog.models import Product
from search.backends import get_search_backend
from search.query import SearchRequest

ORDER_FIELDS = {"RELEVANCE": "relevance", "NAME": "name", "PRICE": "price", "CREATED": "created"}


def load_products(ids: list[int]) -> list[Product]:
    """The sellable products with these ids, in this order, annotated like the storefront
    listing. A product that stopped being sellable since it was indexed is left out."""
    if not ids:
        return []
    products = selectors.storefront_products().filter(pk__in=ids).order_by()
    by_id = {product.pk: product for product in products}
    return [by_id[pk] for pk in ids if pk in by_id]


def order_label(sort: str, descending: bool) -> str:
    """Names an order in cursors, so that a cursor of another order is refused."""
    return f"{sort}{'-' if descending else '+'}"


class SearchResultList:
    def __init__(self, request: SearchRequest, *, start: int = 0, stop: int | None = None):
        self.request = request
        self.start = start
        self.stop = stop
        self._total: list[int] = []  # shared between slices
        self._items: list[Product] | None = None

    @property
    def order(self) -> str:
        return order_label(self.request.sort, self.request.descending)

    def count(self) -> int:
        if not self._total:
            self._total.append(get_search_backend().count(self.request))
        return self._total[0]

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("SearchResultList supports plain slices only")
        start = self.start + (key.start or 0)
        stop = None if key.stop is None else self.start + key.stop
        if self.stop is not None:
            stop = self.stop if stop is None else min(stop, self.stop)
        sliced = SearchResultList(self.request, start=start, stop=stop)
        sliced._total = self._total
        return sliced

    def _fetch(self) -> list[Product]:
        if self._items is None:
            stop = self.stop if self.stop is not None else self.count()
            limit = max(stop - self.start, 0)
            if limit == 0:
                self._items = []
            else:
                page = get_search_backend().search(
                    replace(self.request, offset=self.start, limit=limit, facets=False, count=False)
                )
                self._items = load_products(page.ids)
        return self._items

    def __iter__(self):
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())
