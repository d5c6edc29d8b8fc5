"""Dashboard pages: sign-in and sign-out with a Django session (browsers send no Bearer token),
and the dashboard itself. Thin: the figures come from the reports selectors, called as the
signed-in user; the charts are drawn by charts.py."""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_GET

from catalog.models import FUJIAN, NINGXIA
from procurement import views as exports
from procurement.dashboard import charts
from procurement.models import ContributionKind
from procurement.reports.selectors import (
    LedgerFilter,
    Summary,
    TargetProgress,
    contribution_summary,
    target_progress,
    targets_visible_to,
)
from shop.accounts.models import Role
from shop.accounts.services import token_create
from shop.core import validation
from shop.core.errors import BadUserInput, DomainError
from shop.core.permissions import has_role

DASHBOARD_ROLES = (Role.OPERATOR, Role.AUDITOR)


class DashboardLoginForm(AuthenticationForm):
    """E-mail and password, checked by the API's sign-in service (`tokenCreate`'s), so its
    throttling of failed attempts covers this door too."""

    username = forms.EmailField(
        label="邮箱", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        label="密码", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "password"})
    )

    def clean(self):
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email and password:
            address = self.request.META.get("REMOTE_ADDR") if self.request else None
            try:
                pair = token_create(email=email, password=password, ip_address=address or None)
            except DomainError as error:
                raise ValidationError(error.message, code=error.code) from error
            self.user_cache = pair.user
        return self.cleaned_data


class LoginView(auth_views.LoginView):
    template_name = "procurement/dashboard/login.html"
    authentication_form = DashboardLoginForm
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


def _bars(summary: Summary, label=None, *, by_amount: bool = True) -> list[charts.Bar]:
    bars = [
        charts.Bar(
            (label or (lambda key: key.label))(row.keys[0]) or "未注明",
            row.total,
            f"（{row.entry_count}笔）",
        )
        for row in summary.rows
    ]
    return sorted(bars, key=lambda bar: -bar.value) if by_amount else bars


def _target(progress: TargetProgress) -> dict:
    return {
        "progress": progress,
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


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))
    if not has_role(user, *DASHBOARD_ROLES):
        return TemplateResponse(request, "procurement/dashboard/forbidden.html", status=403)
    year = _year(request.GET.get("year"))
    start, end = (date(year, 1, 1), date(year, 12, 31)) if year else (None, None)

    def split(dimension: str, **scope: list[str]) -> Summary:
        return contribution_summary(
            acting_user=user, filters=LedgerFilter(start, end, scope), group_by=[dimension]
        )

    years = contribution_summary(acting_user=user, filters=None, group_by=["YEAR"])
    if year:
        time_title = f"{year}年 按月份"
        time_bars = _bars(split("MONTH"), lambda key: f"{int(key.value[5:])}月", by_amount=False)
    else:
        time_title = "按年度"
        time_bars = _bars(years, lambda key: f"{key.value}年", by_amount=False)
    kinds = split("KIND")
    sections = [
        (time_title, time_bars),
        ("按福建城市（采购方）", _bars(split("CITY", BUYER_PROVINCE=[FUJIAN]))),
        ("按宁夏县区（产地）", _bars(split("COUNTY", ORIGIN_PROVINCE=[NINGXIA]))),
        ("按品类", _bars(split("CATEGORY"))),
        ("按类型（采购 / 帮销）", _bars(kinds, lambda key: ContributionKind(key.value).label)),
    ]
    export_query = (
        "?" + urlencode({"dateFrom": start.isoformat(), "dateTo": end.isoformat()}) if year else ""
    )
    year_links = {int(row.keys[0].value) for row in years.rows}
    if year:
        year_links.add(year)
    context = {
        "year": year,
        "years": sorted(year_links),
        "total": charts.format_cny(kinds.total),
        "entry_count": kinds.entry_count,
        "targets": [
            _target(target_progress(target)) for target in targets_visible_to(acting_user=user)
        ],
        "charts": [
            {"title": title, "svg": charts.bar_chart(bars, title=title)} for title, bars in sections
        ],
        "csv_url": reverse(exports.contributions_csv) + export_query,
        "xlsx_url": reverse(exports.contributions_xlsx) + export_query,
    }
    return TemplateResponse(request, "procurement/dashboard/index.html", context)
