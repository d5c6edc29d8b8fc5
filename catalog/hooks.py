"""Where other apps plug into catalog rules without catalog importing them.

- `supplier_withdrawn` callbacks run inside the transaction that suspends or exits a supplier;
  procurement registers the one that cancels unconfirmed orders and releases their stock.
- `upheld_quality_complaints` is set by procurement (which owns complaints) to a function
  `(since: datetime) -> {supplier_id: count}`; until then no supplier has any.
"""

from collections.abc import Callable
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
