"""Procurement reads, scoped to the caller."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from procurement import access, membership
from procurement.models import (
    Agency,
    BasketUpload,
    Complaint,
    ContributionEntry,
    ContributionRollup,
    Order,
    ReservedSharePlan,
    RollupPeriod,
)
from procurement.models.orders import WAITING_TO_SHIP
from procurement.reports import rollups
from shop.accounts.models import Role
from shop.core import validation
from shop.core.errors import BadUserInput
from shop.core.permissions import require_role
from shop.core.selectors import filtered_by_given


def agencies_visible_to(*, acting_user: Any) -> QuerySet[Agency]:
    return access.agencies(acting_user)


@dataclass
class OrderFilter:
    statuses: list[str] | None = None
    payment_statuses: list[str] | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    supplier_ids: list[int] | None = None
    agency_ids: list[int] | None = None
    late: bool | None = None
    search: str | None = None

    def __post_init__(self) -> None:
        self.search = validation.search_text(self.search) or None


def late_orders_q(today: date) -> Q:
    """Not shipped by the buyer's latest ship date, or shipped after it."""
    return Q(status__in=WAITING_TO_SHIP, latest_ship_date__lt=today) | Q(
        shipped_at__date__gt=F("latest_ship_date")
    )


def orders_visible_to(*, acting_user: Any, filters: OrderFilter | None = None) -> QuerySet[Order]:
    """The caller's orders (procurement/access.py) narrowed by the filter."""
    orders = access.orders(acting_user)
    f = filters or OrderFilter()
    orders = filtered_by_given(
        orders,
        status__in=f.statuses,
        payment_status__in=f.payment_statuses,
        placed_at__gte=f.placed_from,
        placed_at__lt=f.placed_to,
        supplier_id__in=f.supplier_ids,
        agency_id__in=f.agency_ids,
    )
    if f.late is not None:
        late = late_orders_q(timezone.localdate())
        orders = orders.filter(late) if f.late else orders.exclude(late)
    if f.search:
        orders = orders.filter(Q(number__icontains=f.search) | Q(agency_name__icontains=f.search))
    return orders.order_by("-placed_at", "-id")


def is_late(order: Order, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    if order.status in WAITING_TO_SHIP:
        return order.latest_ship_date < today
    return shipped_late(order.shipped_at, order.latest_ship_date)


def shipped_late(shipped_at: datetime | None, latest_ship_date: date) -> bool:
    """Shipped after the latest ship date, in Asia/Shanghai dates: an order (when its last
    unit shipped) or one of its parcels."""
    return bool(shipped_at and timezone.localdate(shipped_at) > latest_ship_date)


def complaints_visible_to(*, acting_user: Any) -> QuerySet[Complaint]:
    return access.complaints(acting_user)


@dataclass(frozen=True)
class ReservedShare:
    year: int
    reserved: Decimal
    achieved: Decimal
    percent: Decimal | None
    no_canteen: bool
    filed: bool


def agency_achieved(agency_id: int, year: int) -> Decimal:
    """What an agency's purchases counted in a year: the ledger, by its year rollup (and its
    entries not yet folded into it)."""
    cells = ContributionRollup.objects.filter(
        dimensions="AGENCY",
        period=RollupPeriod.YEAR,
        value1=str(agency_id),
        month=date(year, 1, 1),
    )
    entries = ContributionEntry.objects.filter(agency_id=agency_id, business_date__year=year)
    rows = rollups.exact_sums(cells, entries, {})
    return rows[0]["sum_total"] if rows else Decimal("0.00")


def reserved_share(agency: Agency, year: int) -> ReservedShare:
    validation.year(year)
    plan = ReservedSharePlan.objects.filter(agency=agency, year=year).first()
    achieved = agency_achieved(agency.pk, year)
    if plan is None:
        return ReservedShare(year, Decimal("0.00"), achieved, None, False, False)
    reserved = (plan.canteen_total * plan.ratio).quantize(Decimal("0.01"))
    percent = (achieved * 100 / reserved).quantize(Decimal("0.01")) if reserved else None
    return ReservedShare(year, reserved, achieved, percent, plan.no_canteen, True)


@dataclass
class OverdueFilter:
    agency_ids: list[int] | None = None
    city_codes: list[str] | None = None
    days_overdue_min: int | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None


def overdue_payments(
    *, acting_user: Any, filters: OverdueFilter | None = None, today: date | None = None
) -> QuerySet[Order]:
    """Accepted orders not paid by their due date (operators and auditors), oldest due first.
    What is outstanding is the accepted value: an order is paid in one payment."""
    from procurement.services.payment_terms import unpaid_accepted_orders

    require_role(acting_user, Role.OPERATOR, Role.AUDITOR)
    today = today or timezone.localdate()
    f = filters or OverdueFilter()
    if f.days_overdue_min is not None and f.days_overdue_min < 0:
        raise BadUserInput("`daysOverdueMin` must be 0 or more.")
    at_least = max(f.days_overdue_min or 1, 1)  # overdue: the day after the due date
    orders = unpaid_accepted_orders().filter(payment_due_date__lte=today - timedelta(days=at_least))
    orders = filtered_by_given(
        orders,
        agency_id__in=f.agency_ids,
        agency__city__code__in=f.city_codes,
        accepted_value__gte=f.amount_min,
        accepted_value__lte=f.amount_max,
    )
    return orders.select_related("agency__city").order_by("payment_due_date", "id")


@dataclass(frozen=True)
class OverdueByCity:
    city_code: str
    city_name: str
    total: Decimal
    order_count: int


def overdue_by_city(*, acting_user: Any, today: date | None = None) -> list[OverdueByCity]:
    """Overdue amounts per buyer city (the dashboard), largest first."""
    rows = (
        overdue_payments(acting_user=acting_user, today=today)
        .order_by()
        .values("agency__city__code", "agency__city__name")
        .annotate(total=Sum("accepted_value"), count=Count("id"))
    )
    return sorted(
        (
            OverdueByCity(r["agency__city__code"], r["agency__city__name"], r["total"], r["count"])
            for r in rows
        ),
        key=lambda row: (-row.total, row.city_code),
    )


def basket_uploads_visible_to(*, acting_user: Any) -> QuerySet[BasketUpload]:
    return access.basket_uploads(acting_user)


def _agency_readable(acting_user: Any, agency_id: int | None) -> Agency | None:
    """The agency if the caller may read its approvals: its own members, operators, auditors."""
    return access.agencies(acting_user).filter(pk=agency_id).first()


def purchase_requests_visible_to(
    *, acting_user: Any, statuses: list[str] | None = None, agency_ids: list[int] | None = None
) -> QuerySet:
    """An agency's members see its purchase requests; operators and auditors all."""
    requests = (
        access.purchase_requests(acting_user)
        .select_related("agency", "requested_by", "decided_by", "checkout")
        .prefetch_related("checkout__orders")
    )
    if statuses:
        requests = requests.filter(status__in=statuses)
    if agency_ids:
        requests = requests.filter(agency_id__in=agency_ids)
    return requests.order_by("-created_at", "-id")


def agency_budgets(*, acting_user: Any, agency_id: int | None, year: int | None) -> list:
    """The agency's budgets for a year (this year by default) with committed, pending and
    available amounts; empty for an agency the caller may not read."""
    from procurement.services import budgets

    agency = _agency_readable(acting_user, agency_id)
    if agency is None:
        return []
    return budgets.figures(agency.pk, year or budgets.budget_year())


def agency_members(*, acting_user: Any, agency_id: int | None) -> list:
    """The agency's members and their duties."""
    agency = _agency_readable(acting_user, agency_id)
    if agency is None:
        return []
    return membership.members_with_duties(agency.pk)
