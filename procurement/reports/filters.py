"""The ledger filter as the API, the CSV exports and the dashboard give it (public values:
division codes, global IDs), parsed into the selectors' `LedgerFilter`. Below the GraphQL layer
so that views use it without importing GraphQL."""

from typing import Any

from procurement.reports import selectors as reports
from shop.core.errors import BadUserInput
from shop.core.graphql.ids import decode_id

# The dimensions whose values are global IDs of these types.
ID_DIMENSIONS = {"AGENCY": "Agency", "SUPPLIER": "Supplier"}


def _ids(global_ids, type_name: str) -> list[str]:
    """Database ids of global IDs; "" (a summary row without one) stays "" and selects the
    entries without an agency or supplier."""
    ids = ["" if gid == "" else decode_id(gid, type_name) for gid in global_ids]
    if any(i is None for i in ids):
        raise BadUserInput(f"Every ID in the filter must be a {type_name} ID.")
    return [str(i) for i in ids]


def ledger_filter_from(data: Any) -> reports.LedgerFilter:
    """The filter of the API and the exports, in the public values of the summary's keys."""
    data = data or {}
    if data.get("city_codes") and data.get("cities"):
        raise BadUserInput("Filter cities by cityCodes or by the deprecated cities, not both.")
    values: dict[str, list[str]] = {}
    plain = {
        "kinds": "KIND",
        "city_codes": "CITY",
        "agency_types": "AGENCY_TYPE",
        "channels": "CHANNEL",
        "counties": "COUNTY",
        "categories": "CATEGORY",
    }
    for argument, dimension in plain.items():
        if data.get(argument):
            values[dimension] = [getattr(v, "value", v) for v in data[argument]]
    for argument, dimension in (("agencies", "AGENCY"), ("suppliers", "SUPPLIER")):
        if data.get(argument):
            values[dimension] = _ids(data[argument], ID_DIMENSIONS[dimension])
    filters = reports.LedgerFilter.of(data.get("date_from"), data.get("date_to"), values)
    if data.get("cities"):
        filters.values["CITY"] = list(data["cities"])  # names: what the entries store
    return filters
