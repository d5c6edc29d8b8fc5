"""Streamed ledger exports: GET /exports/contributions.csv and .xlsx, with the same filter as
the `contributions` query (camelCase query parameters, lists comma separated), and
/exports/ledger.jsonl, the tree's entries for the offline verifier.

Authenticated by a Bearer token (API clients) or, without an Authorization header, by the
signed-in session of the dashboard's links (/dashboard/). GET only, so a session-authenticated
download changes nothing and CSRF does not apply."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from graphql_relay import to_global_id

from procurement.reports import dimensions
from procurement.reports.filters import ledger_filter_from
from procurement.reports.selectors import contributions_visible_to
from procurement.services import transparency
from shop.accounts.models import Role
from shop.core import db_router, validation
from shop.core.errors import AccessError, BadUserInput, NotFound
from shop.core.exports import csv_response, streamed_rows, xlsx_response
from shop.core.money import quantize_cny


@dataclass(frozen=True)
class Column:
    header: str
    field: str  # what the query reads
    # The value as it is when None (the writers show None as an empty cell).
    cell: Callable[[Any, dict], Any] | None = None


def _dimension_column(dimension: dimensions.Dimension, column: dimensions.ExportColumn) -> Column:
    if column.part == "label":
        return Column(column.header, dimension.label_attr)
    if dimension.id_type:
        type_name = dimension.id_type
        return Column(
            column.header,
            dimension.value_attr,
            lambda v, _c: to_global_id(type_name, v) if v else "",
        )
    if dimension.public_codes is not None:
        name = dimension.name
        return Column(column.header, dimension.value_attr, lambda v, c: c[name].get(v, ""))
    return Column(column.header, dimension.value_attr)


# The contributions export's own columns; the dimensions' are declared in dimensions.py.
FIXED_COLUMNS = {
    "position": Column("序号 position", "position"),
    "business_date": Column("计入日期 business date", "business_date", lambda v, _c: v.isoformat()),
    "source": Column("来源 source", "source"),
    # A number, so a negative amount stays data.
    "amount": Column("金额 amount (CNY)", "amount", lambda v, _c: quantize_cny(v)),
    "seller_credit_code": Column("销售方信用代码 seller credit code", "seller_credit_code"),
    "product_name": Column("产品 product", "product_name"),
    # The entry's invoice, or its order's (contributions_visible_to).
    "invoice": Column("发票号 invoice", "invoice"),
    "order": Column("订单号 order", "order__number"),
    "reason": Column("说明 reason", "reason"),
    "hash": Column("哈希 hash", "hash"),
}
DIMENSION_COLUMNS = {
    column.key(dimension): _dimension_column(dimension, column)
    for dimension, column in dimensions.export_columns()
}
# Left to right: the places and organisations as their names, then keyed as the API's filters
# take them (division codes, global IDs), so a row can be traced back to a summary or a filter.
# A dimension's columns not placed here follow the last one (dimensions.arranged).
LAYOUT = (
    "position",
    "business_date",
    "KIND.value",
    "source",
    "amount",
    "CHANNEL.value",
    "AGENCY.label",
    "AGENCY_TYPE.value",
    "CITY.label",
    "SUPPLIER.label",
    "seller_credit_code",
    "COUNTY.label",
    "CITY.value",
    "COUNTY.value",
    "AGENCY.value",
    "SUPPLIER.value",
    "CATEGORY.value",
    "product_name",
    "invoice",
    "order",
    "reason",
    "hash",
)
COLUMNS = [
    {**FIXED_COLUMNS, **DIMENSION_COLUMNS}[name]
    for name in dimensions.arranged(LAYOUT, FIXED_COLUMNS, list(DIMENSION_COLUMNS))
]
HEADER = [column.header for column in COLUMNS]
# Query parameter (camelCase) → filter argument, for every dimension's arguments.
LIST_PARAMETERS = {
    dimensions.camel(argument.name): argument.name
    for _dimension, argument in dimensions.filter_arguments()
}


def filter_data(request: HttpRequest) -> dict:
    """The ledger filter in query parameters (exports, dashboard), for `ledger_filter_from`."""
    from datetime import date

    data: dict = {}
    for parameter, name in LIST_PARAMETERS.items():
        if request.GET.get(parameter):
            data[name] = [v for v in request.GET[parameter].split(",") if v]
    for parameter, name in (("dateFrom", "date_from"), ("dateTo", "date_to")):
        if request.GET.get(parameter):
            try:
                data[name] = validation.check_date(
                    date.fromisoformat(request.GET[parameter]), field=parameter
                )
            except ValueError as error:
                raise BadUserInput(f"`{parameter}` must be YYYY-MM-DD.") from error
    return data


def _rows(entries) -> Iterator[list]:
    """The export's rows, each cell made from its column's field, found by name once: the
    fields in columns' order, then the few cells that change their value (as fast per row as
    the hand-indexed rows were; a dict per row took twice the CPU)."""
    fields = list(dict.fromkeys(column.field for column in COLUMNS))
    in_order = itemgetter(*(fields.index(column.field) for column in COLUMNS))
    changed = [(n, column.cell) for n, column in enumerate(COLUMNS) if column.cell is not None]
    context = {
        d.name: d.public_codes() for d in dimensions.DIMENSIONS if d.public_codes is not None
    }
    for row in streamed_rows(entries.values_list(*fields)):
        cells = list(in_order(row))
        for n, cell in changed:
            cells[n] = cell(cells[n], context)
        yield cells


def _export(request: HttpRequest, writer):
    def respond():
        entries = contributions_visible_to(
            acting_user=request.user, filters=ledger_filter_from(filter_data(request))
        ).order_by("position")
        if request.user.role == Role.AUDITOR:
            # An auditor's export reads the replica when it is up to date. The rows are read
            # while the response streams, after this view returns, so the database is bound
            # to the query itself rather than to a scope around the view.
            entries = entries.using(db_router.read_alias())
        return writer(entries)

    return _answered(request, respond)


def _answered(request: HttpRequest, respond):
    if getattr(request, "auth_error", None):
        return JsonResponse(
            {"errors": [{"message": request.auth_error, "code": "UNAUTHENTICATED"}]}, status=401
        )
    # BearerTokenMiddleware put the token's user here; without a Bearer header it is the
    # session's user (AuthenticationMiddleware), e.g. an auditor following a dashboard link.
    try:
        return respond()
    except AccessError as error:
        status = 401 if error.code == "UNAUTHENTICATED" else 403
        return JsonResponse(
            {"errors": [{"message": str(error), "code": error.code}]}, status=status
        )
    except BadUserInput as error:
        return JsonResponse(
            {"errors": [{"message": str(error), "code": "BAD_USER_INPUT"}]}, status=400
        )
    except NotFound as error:
        return JsonResponse(
            {"errors": [{"message": error.message, "code": error.code}]}, status=404
        )


def _filename(extension: str) -> str:
    return f"contributions-{timezone.localdate():%Y%m%d}.{extension}"


@require_GET
def contributions_csv(request: HttpRequest):
    return _export(request, lambda entries: csv_response(_filename("csv"), HEADER, _rows(entries)))


@require_GET
def contributions_xlsx(request: HttpRequest):
    return _export(
        request,
        lambda entries: xlsx_response(_filename("xlsx"), HEADER, _rows(entries), sheet="统计台账"),
    )


@require_GET
def ledger_jsonl(request: HttpRequest):
    """The tree's entries with their leaf data, for `shanhai-verify`; `?size=N` stops at a
    checkpoint's size."""

    def respond():
        raw = request.GET.get("size", "")
        if raw and not raw.isdigit():
            raise BadUserInput(f"`size` must be a whole number; got {raw!r}.")
        lines = transparency.tree_export(acting_user=request.user, size=int(raw) if raw else None)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="{_filename("jsonl")}"'
        return response

    return _answered(request, respond)


def _statement(request: HttpRequest):
    from procurement.reports import statements
    from shop.core.graphql.ids import decode_id

    statement = statements.supplier_statement(
        acting_user=request.user,
        supplier_id=decode_id(request.GET.get("supplier", ""), "Supplier"),
        month=statements.parse_month(request.GET.get("month")),
    )
    if statement is None:
        raise NotFound("No such supplier.", field="supplier")
    return statement, f"statement-{statement.supplier.credit_code}-{statement.month:%Y%m}"


@require_GET
def supplier_statement_csv(request: HttpRequest):
    """GET /exports/supplier-statement.csv?supplier=<Supplier ID>&month=YYYY-MM"""
    from procurement.reports import statements

    def respond():
        statement, name = _statement(request)
        return csv_response(f"{name}.csv", statements.HEADER, statements.rows(statement))

    return _answered(request, respond)


@require_GET
def supplier_statement_xlsx(request: HttpRequest):
    from procurement.reports import statements

    def respond():
        statement, name = _statement(request)
        return xlsx_response(
            f"{name}.xlsx", statements.HEADER, statements.rows(statement), sheet="对账单"
        )

    return _answered(request, respond)


def _basket_template(request: HttpRequest, respond):
    """The basket template: the header row only (agency buyers; docs/spreadsheet-baskets.md)."""
    from procurement.access import BASKET_USERS
    from procurement.basket_files import TEMPLATE_HEADER
    from shop.core.permissions import require_role

    def checked():
        require_role(request.user, *BASKET_USERS)
        return respond(TEMPLATE_HEADER)

    return _answered(request, checked)


@require_GET
def basket_template_csv(request: HttpRequest):
    return _basket_template(request, lambda header: csv_response("basket.csv", header, []))


@require_GET
def basket_template_xlsx(request: HttpRequest):
    return _basket_template(
        request, lambda header: xlsx_response("basket.xlsx", header, [], sheet="采购清单")
    )
