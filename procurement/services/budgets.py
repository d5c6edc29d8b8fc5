"""Annual budgets (docs/approvals.md): what is committed and pending against them, and the
check, under the budget rows' locks, that keeps a checkout or an approval within them.

Committed is computed from the orders, never kept in a counter: an order counts at its
accepted value once accepted, else at its subtotal, and not at all once cancelled (refused by
its supplier, cancelled by the agency, or withdrawn with its supplier), so cancelling before
acceptance gives the amount back without anybody remembering to."""

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from procurement.errors import ProcurementErrorCode
from procurement.models import (
    AgencyBudget,
    Order,
    PurchaseRequest,
    PurchaseRequestStatus,
)
from procurement.models.orders import UNCOMMITTED
from shop.core import validation
from shop.core.compiled import CompiledQuery, int_marker, text_marker
from shop.core.errors import DomainError, NotFound
from shop.core.money import quantize_cny

ZERO = Decimal("0.00")
WHOLE_AGENCY = ""
_MONEY = DecimalField(max_digits=16, decimal_places=2)


@dataclass(frozen=True)
class BudgetFigures:
    budget: AgencyBudget
    committed: Decimal
    pending: Decimal

    @property
    def available(self) -> Decimal:
        return self.budget.amount - self.committed


def budget_year() -> int:
    """Spending falls in the Asia/Shanghai calendar year it is placed (or approved) in."""
    return timezone.localdate().year


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return datetime.combine(date(year, 1, 1), time.min, zone), datetime.combine(
        date(year + 1, 1, 1), time.min, zone
    )


def _committed_orders(agency_id: int, year: int) -> QuerySet[Order]:
    start, end = _year_bounds(year)
    return Order.objects.filter(
        agency_id=agency_id, placed_at__gte=start, placed_at__lt=end
    ).exclude(status__in=UNCOMMITTED)


def _order_value() -> Coalesce:
    return Coalesce("accepted_value", "subtotal", output_field=_MONEY)


def _by_line(rows: QuerySet, line_field: str, value: Any) -> dict[str, Decimal]:
    return dict(rows.values_list(line_field).annotate(total=Sum(value)).order_by())


def figures(agency_id: int, year: int) -> list[BudgetFigures]:
    """The agency's budgets for the year with their committed and pending amounts (three
    queries however many lines)."""
    budgets = list(AgencyBudget.objects.filter(agency_id=agency_id, year=year))
    if not budgets:
        return []
    committed = _by_line(
        _committed_orders(agency_id, year), "checkout__budget_line", _order_value()
    )
    start, end = _year_bounds(year)
    pending = _by_line(
        PurchaseRequest.objects.filter(
            agency_id=agency_id,
            status=PurchaseRequestStatus.PENDING,
            created_at__gte=start,
            created_at__lt=end,
        ),
        "budget_line",
        "total",
    )

    def of(totals: dict[str, Decimal], line: str) -> Decimal:
        value = sum(totals.values(), ZERO) if line == WHOLE_AGENCY else totals.get(line, ZERO)
        return quantize_cny(value)

    return [BudgetFigures(b, of(committed, b.line), of(pending, b.line)) for b in budgets]


def checked_line(agency_id: int, line: str | None) -> str:
    """A budget line named by a buyer: one of the agency's lines this year, or "" for none."""
    line = validation.text(
        (line or "").strip(),
        column=validation.column(AgencyBudget, "line"),
        field="budgetLine",
        code=ProcurementErrorCode.INVALID,
    )
    if (
        line
        and not AgencyBudget.objects.filter(
            agency_id=agency_id, year=budget_year(), line=line
        ).exists()
    ):
        raise NotFound(f"The agency has no budget line {line} this year.", field="budgetLine")
    return line


def budgets_to_charge(agency_id: int, year: int, line: str) -> QuerySet[AgencyBudget]:
    """The budgets spending on `line` falls under (the agency's and the line's), locked in id
    order."""
    return (
        AgencyBudget.objects.select_for_update()
        .filter(Q(line=WHOLE_AGENCY) | Q(line=line), agency_id=agency_id, year=year)
        .order_by("id")
    )


# Every checkout charges: compiled once per process (shop/core/compiled.py).
_BUDGETS_TO_CHARGE = CompiledQuery(
    AgencyBudget,
    budgets_to_charge,
    for_write=True,
    agency_id=int_marker(0),
    year=int_marker(1),
    line=text_marker(0),
)


def charge(agency_id: int, *, line: str, amount: Decimal) -> None:
    """Within the caller's transaction, before its orders are inserted: lock this year's
    budgets the spending falls under (the agency's and its line's, in id order) and refuse with
    BUDGET_EXCEEDED if it would take either past its amount. Two approvers racing queue on
    the locks; the second sums the orders the first committed."""
    year = budget_year()
    budgets = _BUDGETS_TO_CHARGE.instances(agency_id=agency_id, year=year, line=line)
    if not budgets:
        return
    totals = _committed_orders(agency_id, year).aggregate(
        whole=Sum(_order_value()),
        line=Sum(_order_value(), filter=Q(checkout__budget_line=line)),
    )
    for budget in budgets:
        committed = totals["whole" if budget.line == WHOLE_AGENCY else "line"] or ZERO
        if committed + amount > budget.amount:
            name = f"budget line {budget.line}" if budget.line else "budget"
            raise DomainError(
                f"This needs ¥{amount}; the {year} {name} has ¥{budget.amount - committed} "
                f"left of ¥{budget.amount}.",
                code=ProcurementErrorCode.BUDGET_EXCEEDED,
                field="budgetLine" if budget.line else None,
            )
