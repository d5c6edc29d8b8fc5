"""Dashboard pages: sign-in and sign-out with a Django session (browsers send no Bearer token),
and the dashboard itself. Thin: the figures come from the reports selectors, called as the
signed-in user; the charts are drawn by charts.py."""

from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_GET

from catalog.models import FUJIAN, NINGXIA
from procurement import views as exports
from procurement.dashboard import charts
from procurement.models import ContributionKind
from procurement.reports import dimensions
from procurement.reports.filters import ledger_filter_from
from procurement.reports.selectors import (
    LedgerFilter,
    Summary,
    TargetProgress,
    contribution_summary,
    target_coverage,
    target_progress,
    targets_visible_to,
)
from procurement.selectors import overdue_by_city
from shop.accounts.forms import SignInForm
from shop.accounts.models import Role
from shop.core import validation
from shop.core.errors import BadUserInput
from shop.core.permissions import has_role

DASHBOARD_ROLES = (Role.OPERATOR, Role.AUDITOR)


class LoginView(auth_views.LoginView):
    template_name = "procurement/dashboard/login.html"
    authentication_form = SignInForm
    next_page = reverse_lazy("dashboard:index")


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("dashboard:login")


def _year(raw: str | None) -> int | None:
    """The optional `?year=` filter; anything else than a plausible year means all years."""
    try:
        year = int(raw or "")
    except ValueError:
        return None
    try:
        return validation.year(year)
    except BadUserInput:
        return None


# Query parameters the dashboard keeps from page to page: the exports' filter and the year.
KEPT_PARAMETERS = ("year", *exports.LIST_PARAMETERS)
# Which query parameter a split's values are fed back into (the exports' and the API's filter).
DRILL_PARAMETER = {
    "YEAR": "year",
    **{d.name: dimensions.camel(d.filters[0].name) for d in dimensions.DIMENSIONS if d.filters},
}


def _query(request: HttpRequest, **changes: str) -> str:
    """This page's query string with `changes` applied (an empty value drops the parameter)."""
    kept = {name: request.GET[name] for name in KEPT_PARAMETERS if request.GET.get(name)}
    kept.update(changes)
    return "?" + urlencode({name: value for name, value in kept.items() if value})


def _bars(summary: Summary, label=None, *, by_amount: bool = True, drill=None) -> list[charts.Bar]:
    """One bar per row, labelled by name; `drill(value)` links a bar to its drill-down."""
    bars = [
        charts.Bar(
            (label or (lambda key: key.label))(row.keys[0]) or "未注明",
            row.total,
            f"（{row.entry_count}笔）",
            drill(row.keys[0].value) if drill and row.keys[0].value else "",
        )
        for row in summary.rows
    ]
    return sorted(bars, key=lambda bar: -bar.value) if by_amount else bars


def _target(progress: TargetProgress, covering: list) -> dict:
    return {
        "progress": progress,
        "covers_today": progress.target in covering,
        "amount": charts.format_cny(progress.target.amount),
        "achieved": charts.format_cny(progress.achieved),
        "projected": charts.format_cny(progress.projected_total),
        "by_year": [(y.year, charts.format_cny(y.amount)) for y in progress.by_year],
        "bar": charts.progress_bar(
            percent=progress.percent,
            elapsed_percent=progress.elapsed_percent,
            on_track=progress.on_track,
            title=f"{progress.target.name}：已完成 {progress.percent}%",
        ),
    }


def _chosen_labels(request: HttpRequest, splits: dict[str, Summary]) -> list[str]:
    """The values the page is filtered by, by name: read from the splits they narrowed (a
    filtered split holds the chosen rows), or as given when no entry has them."""
    chosen = []
    for dimension, summary in splits.items():
        names = {row.keys[0].value: row.keys[0].label for row in summary.rows}
        for value in request.GET.get(DRILL_PARAMETER[dimension], "").split(","):
            if dimension == "KIND" and value in ContributionKind.values:
                chosen.append(ContributionKind(value).label)
            elif value:
                chosen.append(names.get(value) or value)
    return chosen


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))
    if not has_role(user, *DASHBOARD_ROLES):
        return TemplateResponse(request, "procurement/dashboard/forbidden.html", status=403)
    year = _year(request.GET.get("year"))
    start, end = (date(year, 1, 1), date(year, 12, 31)) if year else (None, None)
    try:
        chosen = ledger_filter_from(exports.filter_data(request)).values
    except BadUserInput as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")

    def split(dimension: str, **scope: list[str]) -> Summary:
        return contribution_summary(
            acting_user=user,
            filters=LedgerFilter(start, end, {**chosen, **scope}),
            group_by=[dimension],
        )

    def drill(dimension: str):
        return lambda value: _query(request, **{DRILL_PARAMETER[dimension]: value})

    years = contribution_summary(
        acting_user=user, filters=LedgerFilter(None, None, chosen), group_by=["YEAR"]
    )
    if year:
        time_title = f"{year}年 按月份"
        time_bars = _bars(split("MONTH"), lambda key: f"{int(key.value[5:])}月", by_amount=False)
    else:
        time_title = "按年度"
        time_bars = _bars(years, lambda key: f"{key.value}年", by_amount=False, drill=drill("YEAR"))
    kinds = split("KIND")
    cities = split("CITY", BUYER_PROVINCE=[FUJIAN])
    counties = split("COUNTY", ORIGIN_PROVINCE=[NINGXIA])
    categories = split("CATEGORY")
    sections = [
        (time_title, time_bars),
        ("按福建城市（采购方）", _bars(cities, drill=drill("CITY"))),
        ("按宁夏县区（产地）", _bars(counties, drill=drill("COUNTY"))),
        ("按品类", _bars(categories, drill=drill("CATEGORY"))),
        (
            "按类型（采购 / 帮销）",
            _bars(kinds, lambda key: ContributionKind(key.value).label, drill=drill("KIND")),
        ),
    ]
    export_parameters = {
        name: request.GET[name] for name in exports.LIST_PARAMETERS if request.GET.get(name)
    }
    if year:
        export_parameters.update(dateFrom=start.isoformat(), dateTo=end.isoformat())
    export_query = "?" + urlencode(export_parameters) if export_parameters else ""
    active = _chosen_labels(
        request, {"CITY": cities, "COUNTY": counties, "CATEGORY": categories, "KIND": kinds}
    )
    coverage = target_coverage(acting_user=user)
    overdue = overdue_by_city(acting_user=user)
    year_links = {int(row.keys[0].value) for row in years.rows}
    if year:
        year_links.add(year)
    context = {
        "year": year,
        "years": sorted(year_links),
        "total": charts.format_cny(kinds.total),
        "entry_count": kinds.entry_count,
        "coverage": coverage,
        "targets": [
            _target(target_progress(target, coverage.date), coverage.covering)
            for target in targets_visible_to(acting_user=user)
        ],
        "charts": [
            {"title": title, "svg": charts.bar_chart(bars, title=title)} for title, bars in sections
        ],
        "overdue": {
            "total": charts.format_cny(sum((row.total for row in overdue), Decimal(0))),
            "count": sum(row.order_count for row in overdue),
            "chart": charts.bar_chart(
                [
                    charts.Bar(row.city_name, row.total, f"（{row.order_count}笔）")
                    for row in overdue
                ],
                title="逾期未付款（按福建城市）",
            ),
        },
        "filters": active,
        "clear_url": _query(request, **dict.fromkeys(exports.LIST_PARAMETERS, "")),
        "csv_url": reverse(exports.contributions_csv) + export_query,
        "xlsx_url": reverse(exports.contributions_xlsx) + export_query,
    }
    return TemplateResponse(request, "procurement/dashboard/index.html", context)
