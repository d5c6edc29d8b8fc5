"""What every backend takes and returns: plain data, no ORM or engine objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from search.price_bands import PRICE_BANDS

# Facets are disjunctive: each is counted with every filter except its own, so picking one
# county still shows how many hits the others have.
FACETS = ("category", "county", "gi", "price_band")
PRICE_BAND_KEYS = tuple(key for key, _low, _high in PRICE_BANDS)
SORT_FIELDS = ("relevance", "name", "price", "created")


@dataclass(frozen=True)
class SearchFilters:
    """Facet filters (`categories`, `counties`, `gi`, `price_bands`: OR within one, AND across)
    and plain filters (the rest). Ids are database ids. Prices bound the lowest variant price,
    inclusive."""

    categories: tuple[int, ...] = ()
    counties: tuple[int, ...] = ()
    gi: bool | None = None
    price_bands: tuple[str, ...] = ()
    suppliers: tuple[int, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    poverty: bool | None = None
    in_stock: bool | None = None

    def __post_init__(self):
        unknown = set(self.price_bands) - set(PRICE_BAND_KEYS)
        if unknown:
            raise ValueError(f"unknown price bands {sorted(unknown)}; expected {PRICE_BAND_KEYS}")

    @classmethod
    def from_product_filter(cls, product_filter, *, price_bands=()) -> SearchFilters:
        """From `catalog.selectors.ProductFilter` (what `ProductFilterInput` becomes)."""
        f = product_filter
        return cls(
            categories=tuple(f.category_ids or ()),
            counties=tuple(f.county_ids or ()),
            gi=f.has_gi,
            price_bands=tuple(price_bands or ()),
            suppliers=tuple(f.supplier_ids or ()),
            price_min=f.price_min,
            price_max=f.price_max,
            poverty=f.poverty_county,
            in_stock=f.in_stock,
        )


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)
    offset: int = 0
    limit: int = 20
    sort: str = "relevance"
    descending: bool = False  # for name / price / created; relevance is always best first
    facets: bool = True
    count: bool = True  # False: the caller already knows the total
    # relaxation: a hit needs only some of the words, ranked by how many (see search.recovery)
    match_any: bool = False

    def __post_init__(self):
        if self.sort not in SORT_FIELDS:
            raise ValueError(f"unknown sort {self.sort!r}; expected one of {SORT_FIELDS}")


@dataclass
class Hit:
    product_id: int
    score: float | None


@dataclass
class FacetValue:
    value: str  # category / county id, "true"/"false", or a price band key
    count: int


@dataclass
class SearchResults:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    backend: str
    fallback: bool = False  # True: the engine failed and the database answered
    # what was searched instead of a query that found nothing (a typo corrected), or None
    corrected_query: str | None = None
    partial: bool = False  # True: no hit has every word; these match some, most first

    @property
    def ids(self) -> list[int]:
        return [hit.product_id for hit in self.hits]


@dataclass
class Suggestion:
    product_id: int
    name: str


def order_facet_values(name: str, values: list[FacetValue]) -> list[FacetValue]:
    """Every backend's facets in the same order: price bands in band order (all of them, also
    empty ones), the others by count, then value."""
    if name == "price_band":
        counts = {v.value: v.count for v in values}
        return [FacetValue(key, counts.get(key, 0)) for key in PRICE_BAND_KEYS]
    return sorted((v for v in values if v.count), key=lambda v: (-v.count, v.value))
