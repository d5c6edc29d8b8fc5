"""The ledger's dimensions, each declared once (docs/architecture-howto.md, "A ledger dimension").

A dimension is what summaries group by and filters select on: the entry attributes holding its
value and its label, the `ContributionFilterInput` arguments that select it, its columns in the
contributions export, its column in the import file and how that column is parsed, and whether
the offline verifier totals it. Everything else reads this registry: the rollups and summaries
(procurement/reports/rollups.py, selectors.py), the filter parser (filters.py), the GraphQL filter
input and `ContributionDimension` enum (procurement/graphql/ledger/types.py), the exports
(procurement/views.py), the import (procurement/services/contributions.py) and the verifier.

Standard library only at import time: the offline verifier reads it without Django. What needs
the database (reference data, city codes) is imported inside the functions that use it.

Public values (what summaries' keys carry and filters take; see reports/selectors.py): a global
ID for a dimension with `id_type` (its stored value a nullable foreign key), a code for one with
`public_codes` (CITY: entries store the city's name), the stored value otherwise.
"""

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

TIME_DIMENSIONS = ("YEAR", "MONTH")


@dataclass(frozen=True)
class FilterArgument:
    """An argument of `ContributionFilterInput` (snake_case here, camelCase in GraphQL and in the
    exports' query string)."""

    name: str
    description: str = ""
    deprecation_reason: str = ""
    # Takes stored values (a city's name) rather than public ones (its code).
    stored_values: bool = False


@dataclass(frozen=True)
class ExportColumn:
    header: str
    part: str  # "value": the public value (a code, a global ID); "label": the name to show

    def key(self, dimension: "Dimension") -> str:
        """How an export's layout names it: `CITY.value`, `CITY.label`."""
        return f"{dimension.name}.{self.part}"


@dataclass(frozen=True)
class ImportColumn:
    """A column of the import file: `parse(text, reference)` returns the entry's fields or
    raises ValueError saying what is wrong; `reference()` loads, once per file, what it checks
    against."""

    name: str
    parse: Callable[[str, Any], dict[str, Any]]
    required: bool = False
    reference: Callable[[], Any] | None = None


@dataclass(frozen=True)
class Dimension:
    name: str  # the ContributionDimension value
    value_attr: str  # the entry attribute grouped and filtered on
    label_attr: str  # the entry attribute shown beside it
    filters: tuple[FilterArgument, ...] = ()
    export: tuple[ExportColumn, ...] = ()
    import_column: ImportColumn | None = None
    # The TextChoices of procurement.models its values are (GraphQL filters by that enum).
    choices: str = ""
    # The GraphQL type whose global IDs are its public values.
    id_type: str = ""
    # Stored value → public code (loaded per use; reference data).
    public_codes: Callable[[], dict[str, str]] | None = None
    # In `ContributionDimension` (the provinces only scope targets).
    groupable: bool = True
    # Totalled by the offline verifier from the leaves (its value attribute must be signed).
    offline_total: bool = False


# --- Import parsers and reference data (Django imported where used) --------------------------


def _text(attribute: str, limit: int) -> Callable[[str, Any], dict[str, Any]]:
    return lambda text, _reference: {attribute: text[:limit]}


def _agency_types() -> set[str]:
    from procurement.models import AgencyType

    return set(AgencyType.values)


def _agency_type(text: str, types: set[str]) -> dict[str, Any]:
    if text not in types:
        raise ValueError(f"unknown buyer_type {text!r}")
    return {"agency_type": text}


def _fujian_cities() -> set[str]:
    from catalog.models import FUJIAN, City

    return set(City.objects.filter(province=FUJIAN).values_list("name", flat=True))


def _city(text: str, cities: set[str]) -> dict[str, Any]:
    if text not in cities:
        raise ValueError(f"{text!r} is not a Fujian city")
    return {"agency_city": text}


def _city_codes() -> dict[str, str]:
    from procurement.reports.selectors import city_codes

    return city_codes()


def _categories() -> set[str]:
    from catalog.models import Category

    return set(Category.objects.values_list("name", flat=True))


def _category(text: str, categories: set[str]) -> dict[str, Any]:
    if text and text not in categories:
        raise ValueError(f"unknown category {text!r}")
    return {"category": text}


def _ningxia_counties() -> dict[str, Any]:
    from catalog.models import NINGXIA, County

    return {c.code: c for c in County.objects.filter(province=NINGXIA)}


def _county(text: str, counties: Mapping[str, Any]) -> dict[str, Any]:
    county = counties.get(text) if text else None
    if text and county is None:
        raise ValueError(f"{text!r} is not a Ningxia county code")
    return {
        "origin_county_code": county.code if county else "",
        "origin_county_name": county.name if county else "",
    }


# --- The registry ------------------------------------------------------------------------------

DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "KIND",
        "kind",
        "kind",
        filters=(FilterArgument("kinds"),),
        export=(ExportColumn("类型 kind", "value"),),
        choices="ContributionKind",
        offline_total=True,
    ),
    Dimension(
        "CITY",
        "agency_city",
        "agency_city",
        filters=(
            FilterArgument(
                "city_codes",
                "Fujian cities by administrative division code (e.g. 350200), as CITY values.",
            ),
            FilterArgument(
                "cities",
                "Fujian city names.",
                deprecation_reason="Use cityCodes (division codes, as contributionSummary's "
                "CITY values); names are accepted for one more release.",
                stored_values=True,
            ),
        ),
        export=(ExportColumn("城市 city", "label"), ExportColumn("城市代码 city code", "value")),
        import_column=ImportColumn("buyer_city", _city, required=True, reference=_fujian_cities),
        public_codes=_city_codes,
        offline_total=True,
    ),
    Dimension(
        "AGENCY_TYPE",
        "agency_type",
        "agency_type",
        filters=(FilterArgument("agency_types"),),
        export=(ExportColumn("单位类型 agency type", "value"),),
        import_column=ImportColumn(
            "buyer_type", _agency_type, required=True, reference=_agency_types
        ),
    ),
    Dimension(
        "AGENCY",
        "agency_id",
        "agency_name",
        filters=(FilterArgument("agencies", "Agency global IDs."),),
        export=(
            ExportColumn("采购单位 agency", "label"),
            ExportColumn("采购单位ID agency ID", "value"),
        ),
        import_column=ImportColumn("buyer_name", _text("agency_name", 128), required=True),
        id_type="Agency",
    ),
    Dimension(
        "CHANNEL",
        "channel",
        "channel",
        filters=(FilterArgument("channels"),),
        export=(ExportColumn("渠道 channel", "value"),),
        import_column=ImportColumn("channel", _text("channel", 32), required=True),
    ),
    Dimension(
        "SUPPLIER",
        "supplier_id",
        "supplier_name",
        filters=(FilterArgument("suppliers", "Supplier global IDs."),),
        export=(
            ExportColumn("供应商 supplier", "label"),
            ExportColumn("供应商ID supplier ID", "value"),
        ),
        import_column=ImportColumn("seller_name", _text("supplier_name", 128)),
        id_type="Supplier",
    ),
    Dimension(
        "COUNTY",
        "origin_county_code",
        "origin_county_name",
        filters=(FilterArgument("counties", "Ningxia counties by division code."),),
        export=(
            ExportColumn("产地 county", "label"),
            ExportColumn("产地代码 county code", "value"),
        ),
        import_column=ImportColumn("origin_county_code", _county, reference=_ningxia_counties),
        offline_total=True,
    ),
    Dimension(
        "CATEGORY",
        "category",
        "category",
        filters=(FilterArgument("categories", "Category names."),),
        export=(ExportColumn("品类 category", "value"),),
        import_column=ImportColumn("category", _category, reference=_categories),
        offline_total=True,
    ),
    Dimension("BUYER_PROVINCE", "buyer_province", "buyer_province", groupable=False),
    Dimension("ORIGIN_PROVINCE", "origin_province", "origin_province", groupable=False),
)

BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def dimension(name: str) -> Dimension:
    return BY_NAME[name]


def group_dimensions() -> tuple[str, ...]:
    """The `ContributionDimension` values: the time ones, then the groupable dimensions."""
    return (*TIME_DIMENSIONS, *(d.name for d in DIMENSIONS if d.groupable))


def filter_arguments() -> Iterator[tuple[Dimension, FilterArgument]]:
    """Every filter argument with its dimension, in the filter input's order."""
    for d in DIMENSIONS:
        for argument in d.filters:
            yield d, argument


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def export_columns() -> Iterator[tuple[Dimension, ExportColumn]]:
    for d in DIMENSIONS:
        for column in d.export:
            yield d, column


def import_columns() -> Iterator[tuple[Dimension, ImportColumn]]:
    for d in DIMENSIONS:
        if d.import_column is not None:
            yield d, d.import_column


def arranged(
    layout: tuple[str, ...], fixed: Collection[str], declared: list[str]
) -> tuple[str, ...]:
    """A file's columns: `layout` (where the columns its readers know sit: the file's own
    `fixed` ones and declared dimension columns), then the declared columns it does not place,
    so a new dimension's columns go at the end and never shift the others."""
    unknown = [name for name in layout if name not in fixed and name not in declared]
    if unknown:
        raise ValueError(f"the layout places unknown columns {unknown}")
    return (*layout, *(name for name in declared if name not in layout))
