"""The ledger filter as the API, the CSV exports and the dashboard give it (public values:
division codes, global IDs), parsed into the selectors' `LedgerFilter`. Below the GraphQL layer
so that views use it without importing GraphQL. Its arguments are the dimensions' (dimensions.py).
"""

from typing import Any

from procurement.reports import dimensions
from procurement.reports import selectors as reports
from shop.core.errors import BadUserInput
from shop.core.graphql.ids import decode_id


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
    public: dict[str, list[str]] = {}
    stored: dict[str, list[str]] = {}
    for dimension in dimensions.DIMENSIONS:
        given = [argument for argument in dimension.filters if data.get(argument.name)]
        if len(given) > 1:
            names = [dimensions.camel(argument.name) for argument in given]
            raise BadUserInput(
                f"Filter {dimension.name} by {' or by '.join(names)}, not by several of them."
            )
        for argument in given:
            values = [getattr(v, "value", v) for v in data[argument.name]]
            if dimension.id_type:
                values = _ids(values, dimension.id_type)
            (stored if argument.stored_values else public)[dimension.name] = list(values)
    filters = reports.LedgerFilter.of(data.get("date_from"), data.get("date_to"), public)
    filters.values.update(stored)  # e.g. city names: what the entries store
    return filters
