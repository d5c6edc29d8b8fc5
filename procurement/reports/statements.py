"""A supplier's monthly statement (对账单): orders accepted, paid, refunded and outstanding in a
month (Asia/Shanghai), and what the ledger counted for it, read independently so a difference
shows (docs/decisions.md, "Supplier statements (issue 17)")."""

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from catalog.models import Supplier
from procurement.models import (
    PLATFORM_CHANNEL,
    ContributionEntry,
    ContributionSource,
    Order,
    PaymentStatus,
    Refund,
    RefundState,
)
from procurement.models.orders import COUNTED
from shop.accounts.models import Role
from shop.core import validation
from shop.core.errors import BadUserInput
from shop.core.permissions import require_role

ZERO = Decimal("0.00")


def parse_month(value: str | None, *, field: str = "month") -> date:
    """`YYYY-MM` as the month's first day; anything else is BAD_USER_INPUT."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        first = date(validation.year(year, field=field), month, 1)
    except (TypeError, ValueError) as error:
        raise BadUserInput(f"`{field}` must be a month, YYYY-MM; got {value!r}.") from error
    return first


def _month_bounds(first: date) -> tuple[datetime, datetime]:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(first, time.min), zone),
        timezone.make_aware(datetime.combine(following, time.min), zone),
    )


@dataclass(frozen=True)
class StatementLine:
    """One order the month touched; amounts are what happened to it in the month."""

    order_id: int
    number: str
    agency_name: str
    accepted_on: date | None
    accepted: Decimal  # its accepted value, when accepted this month
    paid_on: date | None
    paid: Decimal  # paid this month
    refunded: Decimal  # refunded this month
    outstanding: Decimal  # accepted and still unpaid at the month's end
    counted: Decimal  # counted this month (accepted and paid, the later this month)


@dataclass(frozen=True)
class SupplierStatement:
    supplier: Supplier
    month: date
    lines: list[StatementLine]
    contribution: Decimal  # the ledger's platform entries for the supplier dated in the month

    def _total(self, name: str) -> Decimal:
        return sum((getattr(line, name) for line in self.lines), ZERO)

    @property
    def accepted(self) -> Decimal:
        return self._total("accepted")

    @property
    def accepted_count(self) -> int:
        return sum(1 for line in self.lines if line.accepted_on and line.accepted_on >= self.month)

    @property
    def paid(self) -> Decimal:
        return self._total("paid")

    @property
    def paid_count(self) -> int:
        return sum(1 for line in self.lines if line.paid)

    @property
    def refunded(self) -> Decimal:
        return self._total("refunded")

    @property
    def outstanding(self) -> Decimal:
        return self._total("outstanding")

    @property
    def counted(self) -> Decimal:
        return self._total("counted")

    @property
    def ledger_agrees(self) -> bool:
        """The orders' net counted value this month equals what the ledger holds for it."""
        return self.counted - self.refunded == self.contribution


def _in(name: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{name}__gte": start, f"{name}__lt": end})


def _line(order: Order, refunded: Decimal, start: datetime, end: datetime) -> StatementLine:
    accepted_at, paid_at = order.accepted_at, order.paid_at
    accepted_now = bool(accepted_at and start <= accepted_at < end)
    paid_now = bool(paid_at and start <= paid_at < end)
    counted_at = max(accepted_at, paid_at) if accepted_at and paid_at else None
    counted = (
        order.accepted_value
        if counted_at
        and start <= counted_at < end
        and order.status in COUNTED
        and order.payment_status != PaymentStatus.UNPAID
        else ZERO
    )
    owing = bool(accepted_at and accepted_at < end and (paid_at is None or paid_at >= end))
    return StatementLine(
        order_id=order.pk,
        number=order.number,
        agency_name=order.agency_name,
        accepted_on=timezone.localdate(accepted_at) if accepted_at else None,
        accepted=order.accepted_value if accepted_now else ZERO,
        paid_on=timezone.localdate(paid_at) if paid_at else None,
        paid=order.paid_amount if paid_now else ZERO,
        refunded=refunded,
        outstanding=order.accepted_value if owing else ZERO,
        counted=counted,
    )


def supplier_statement(
    *, acting_user: Any, supplier_id: int | None, month: date
) -> SupplierStatement | None:
    """Operators and auditors: any supplier; supplier staff: their own. Another supplier (or an
    unknown one) is None, like an unknown one."""
    require_role(acting_user, Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER)
    if acting_user.role == Role.SUPPLIER and supplier_id != acting_user.supplier_id:
        return None
    supplier = Supplier.objects.filter(pk=supplier_id).first()
    if supplier is None:
        return None
    start, end = _month_bounds(month)
    refunds = dict(
        Refund.objects.filter(
            _in("created_at", start, end),
            order__supplier_id=supplier.pk,
            state=RefundState.SUCCEEDED,
        )
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values_list("order_id", "total")
    )
    orders = Order.objects.filter(supplier_id=supplier.pk).filter(
        _in("accepted_at", start, end)
        | _in("paid_at", start, end)
        | Q(pk__in=list(refunds))
        | (Q(accepted_at__lt=end) & (Q(paid_at__isnull=True) | Q(paid_at__gte=end)))
    )
    lines = [
        _line(order, refunds.get(order.pk, ZERO), start, end)
        for order in orders.order_by("accepted_at", "id")
    ]
    following = _month_bounds(month)[1].astimezone(timezone.get_current_timezone()).date()
    contribution = ContributionEntry.objects.filter(
        supplier_id=supplier.pk,
        channel=PLATFORM_CHANNEL,
        source__in=(ContributionSource.ORDER, ContributionSource.REFUND),
        business_date__gte=month,
        business_date__lt=following,
    ).aggregate(total=Sum("amount"))["total"]
    return SupplierStatement(supplier, month, lines, contribution or ZERO)


def download_path(statement: SupplierStatement, extension: str) -> str:
    from urllib.parse import urlencode

    from graphql_relay import to_global_id

    query = urlencode(
        {
            "supplier": to_global_id("Supplier", statement.supplier.pk),
            "month": f"{statement.month:%Y-%m}",
        }
    )
    return f"/exports/supplier-statement.{extension}?{query}"


HEADER = [
    "订单号 order",
    "采购单位 agency",
    "验收日期 accepted on",
    "本月验收 accepted",
    "付款日期 paid on",
    "本月付款 paid",
    "本月退款 refunded",
    "月末未付 outstanding",
    "本月计入 counted",
]


def rows(statement: SupplierStatement):
    """The statement's orders, then its totals and the ledger's figure, as export rows (money as
    Decimal, so a spreadsheet keeps them numbers)."""
    for line in statement.lines:
        yield [
            line.number,
            line.agency_name,
            line.accepted_on.isoformat() if line.accepted_on else "",
            line.accepted,
            line.paid_on.isoformat() if line.paid_on else "",
            line.paid,
            line.refunded,
            line.outstanding,
            line.counted,
        ]
    yield [
        "合计 total",
        f"{statement.accepted_count} 笔验收 / {statement.paid_count} 笔付款",
        "",
        statement.accepted,
        "",
        statement.paid,
        statement.refunded,
        statement.outstanding,
        statement.counted,
    ]
    yield ["台账计入 ledger contribution", "", "", "", "", "", "", "", statement.contribution]
