"""Price bands for the price facet, shared by every search backend.

Kept apart from search.documents so that code which only needs the bands (queries, the
database backend, GraphQL) does not import the Elasticsearch DSL and the Chinese analysers.
"""

from decimal import Decimal

PRICE_BANDS: tuple[tuple[str, float | None, float | None], ...] = (
    ("0-50", None, 50),
    ("50-100", 50, 100),
    ("100-200", 100, 200),
    ("200-500", 200, 500),
    ("500+", 500, None),
)


def price_band(price: Decimal | float | int | None) -> str | None:
    """The `PRICE_BANDS` key for a price in yuan, or None for no price."""
    if price is None:
        return None
    value = float(price)
    for key, low, high in PRICE_BANDS:
        if (low is None or value >= low) and (high is None or value < high):
            return key
    return None
