"""Where other apps plug into catalog rules without catalog importing them.

- `supplier_withdrawn` callbacks run inside the transaction that suspends or exits a supplier;
  procurement registers the one that cancels unconfirmed orders and releases their stock.
- `upheld_quality_complaints` is set by procurement (which owns complaints) to a function
  `(since: datetime) -> {supplier_id: count}`; until then no supplier has any.
- `products_changed(ids)` is announced by catalog services inside their transaction whenever
  something a product's listing shows changed; search registers its outbox there.
- `product_search` answers `products(search: ...)`: search registers its text search; until
  then the argument is refused.
- `search_is_current_at_commit()` tells the response cache whether a search answers from what
  is committed; search registers its backend's answer (without search: yes).
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

_withdrawn_callbacks: list[Callable[..., None]] = []


def on_supplier_withdrawn(callback: Callable[..., None]) -> Callable[..., None]:
    """Register `callback(*, supplier, actor, reason)`; idempotent per function."""
    if callback not in _withdrawn_callbacks:
        _withdrawn_callbacks.append(callback)
    return callback


def supplier_withdrawn(*, supplier: Any, actor: Any, reason: str) -> None:
    for callback in _withdrawn_callbacks:
        callback(supplier=supplier, actor=actor, reason=reason)


def _no_complaints(since: datetime) -> dict[int, int]:
    return {}


upheld_quality_complaints: Callable[[datetime], dict[int, int]] = _no_complaints


def set_complaint_counter(counter: Callable[[datetime], dict[int, int]]) -> None:
    global upheld_quality_complaints
    upheld_quality_complaints = counter


_changed_callbacks: list[Callable[[list[int]], Any]] = []


def on_products_changed(callback: Callable[[list[int]], Any]) -> Callable[[list[int]], Any]:
    """Register `callback(product_ids)`; idempotent per function."""
    if callback not in _changed_callbacks:
        _changed_callbacks.append(callback)
    return callback


def products_changed(product_ids: Iterable[int]) -> None:
    """Announce, inside the caller's transaction, that these products' listings changed.
    Accepts ids or a `values_list("pk", flat=True)` queryset."""
    ids = list(product_ids)
    if ids:
        for callback in _changed_callbacks:
            callback(ids)


def _no_product_search(text: str, **options: Any) -> Any:
    raise RuntimeError("No search app registered a product search (catalog.hooks).")


product_search: Callable[..., Any] = _no_product_search


def set_product_search(search: Callable[..., Any]) -> None:
    """Register `search(text, *, filter, sort_by) -> list of products` for `products(search:)`."""
    global product_search
    product_search = search


def _always_current() -> bool:
    return True


search_is_current_at_commit: Callable[[], bool] = _always_current


def set_search_currency(check: Callable[[], bool]) -> None:
    global search_is_current_at_commit
    search_is_current_at_commit = check
