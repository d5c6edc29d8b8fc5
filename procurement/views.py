"""Streamed ledger exports: GET /exports/contributions.csv and .xlsx, with the same filter as
the `contributions` query (camelCase query parameters, lists comma separated), and
/exports/ledger.jsonl, the tree's entries for the offline verifier.

Authenticated by a Bearer token (API clients) or, without an Authorization header, by the
signed-in session of the dashboard's links (/dashboard/). GET only, so a session-authenticated
download changes nothing and CSRF does not apply."""

from collections.abc import Iterator

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from graphql_relay import to_global_id

from procurement.reports.filters import ledger_filter_from
from procurement.reports.selectors import city_codes, contributions_visible_to
from procurement.services import transparency
from shop.accounts.models import Role
from shop.core import db_router, validation
from shop.core.errors import AccessError, BadUserInput, NotFound
from shop.core.exports import csv_response, xlsx_response
from shop.core.money import quantize_cny

HEADER = [
    "序号 position",
    "计入日期 business date",
    "类型 kind",
    "来源 source",
    "金额 amount (CNY)",
    "渠道 channel",
    "采购单位 agency",
    "单位类型 agency type",
    "城市 city",
    "供应商 supplier",
    "销售方信用代码 seller credit code",
    "产地 county",
    "城市代码 city code",
    "产地代码 county code",
    "采购单位ID agency ID",
    "供应商ID supplier ID",
    "品类 category",
    "产品 product",
    "发票号 invoice",
    "订单号 order",
    "说明 reason",
    "哈希 hash",
]
LIST_PARAMETERS = {
    "kinds": "kinds",
    "cityCodes": "city_codes",
    "cities": "cities",  # deprecated: city names
    "agencyTypes": "agency_types",
    "agencies": "agencies",
    "channels": "channels",
    "suppliers": "suppliers",
    "counties": "counties",
    "categories": "categories",
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
    """The places and organisations as their names, then keyed as the API's filters take them
    (division codes, global IDs), so a row can be traced back to a summary or a filter."""
    columns = (
        "position",
        "business_date",
        "kind",
        "source",
        "amount",
        "channel",
        "agency_name",
        "agency_type",
        "agency_city",
        "supplier_name",
        "seller_credit_code",
        "origin_county_name",
        "agency_city",
        "origin_county_code",
        "agency_id",
        "supplier_id",
        "category",
        "product_name",
        "invoice",  # the entry's invoice, or its order's (contributions_visible_to)
        "order__number",
        "reason",
        "hash",
    )
    codes = city_codes()
    for row in entries.values_list(*columns).iterator(chunk_size=2000):
        row = list(row)
        row[1] = row[1].isoformat()
        row[4] = quantize_cny(row[4])  # a number, so a negative amount stays data
        row[12] = codes.get(row[12], "")
        row[14] = to_global_id("Agency", row[14]) if row[14] else ""
        row[15] = to_global_id("Supplier", row[15]) if row[15] else ""
        row[19] = row[19] or ""
        yield row


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
    from procurement.basket_files import TEMPLATE_HEADER
    from shop.core.permissions import require_role

    def checked():
        require_role(request.user, Role.AGENCY)
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
