"""Payment within 30 days of acceptance (保障中小企业款项支付条例): the due date an accepted
order gets, whether its payment met it, and the reminders sent before and on the due date.

Dates are business dates in Asia/Shanghai (settings.TIME_ZONE); see docs/decisions.md,
"Payment within 30 days (issue 17)" for what counts as the start of the term."""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from procurement import notifications
from procurement.models import (
    Order,
    PaymentReminder,
    PaymentReminderKind,
    PaymentStatus,
)
from procurement.models.orders import PAYABLE

logger = logging.getLogger(__name__)


def due_date_for(accepted_at: datetime) -> date:
    """The acceptance's business date plus the term: day 1 is the day after acceptance, so an
    order accepted on 1 March (term 30) is due on 31 March and overdue from 1 April."""
    return timezone.localdate(accepted_at) + timedelta(days=settings.PAYMENT_TERM_DAYS)


def set_due_date(order: Order) -> None:
    """Called when an order becomes ACCEPTED (the caller holds its lock)."""
    order.payment_due_date = due_date_for(order.accepted_at)
    order.save(update_fields=["payment_due_date"])


def paid_on_time(order: Order, paid_at: datetime) -> bool | None:
    """Whether a payment at `paid_at` met the order's due date (None: the order has none)."""
    if order.payment_due_date is None:
        return None
    return timezone.localdate(paid_at) <= order.payment_due_date


def days_overdue(due: date, today: date | None = None) -> int:
    return max(((today or timezone.localdate()) - due).days, 0)


def unpaid_accepted_orders():
    return Order.objects.filter(
        status__in=PAYABLE,
        payment_status=PaymentStatus.UNPAID,
        payment_due_date__isnull=False,
    )


@dataclass
class ReminderReport:
    sent: int = 0
    already_sent: int = 0
    orders: list[str] = field(default_factory=list)


def _message(order: Order, kind: str, today: date) -> tuple[str, str]:
    amount = f"{order.accepted_value:.2f}"
    if kind == PaymentReminderKind.BEFORE_DUE:
        left = (order.payment_due_date - today).days
        subject = f"订单 {order.number} 将于 {order.payment_due_date:%Y-%m-%d} 到期付款"
        body = (
            f"{order.agency_name}：订单 {order.number}（{order.supplier.name}）已验收，"
            f"应付 {amount} 元，付款期限为 {order.payment_due_date:%Y-%m-%d}（还有 {left} 天）。"
        )
    else:
        late = days_overdue(order.payment_due_date, today)
        subject = f"订单 {order.number} 付款已{'逾期' if late else '到期'}"
        body = (
            f"{order.agency_name}：订单 {order.number}（{order.supplier.name}）应付 {amount} 元，"
            f"付款期限 {order.payment_due_date:%Y-%m-%d}"
            + (f"，已逾期 {late} 天。" if late else "，即今天。")
            + "请按《保障中小企业款项支付条例》及时付款。"
        )
    return subject, body


def _remind(order_id: int, kind: str, today: date) -> bool:
    """One reminder, recorded and queued for e-mail in one transaction (the mail leaves after
    commit, never inside it). False when it had been sent already or the order got paid."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("supplier")
            .get(pk=order_id)
        )
        if order.payment_status != PaymentStatus.UNPAID or order.payment_due_date is None:
            return False
        _reminder, created = PaymentReminder.objects.get_or_create(
            order=order,
            kind=kind,
            due_date=order.payment_due_date,
            defaults={"sent_on": today},
        )
        if not created:
            return False
        subject, body = _message(order, kind, today)
        late = days_overdue(order.payment_due_date, today)
        published = notifications.payment_reminder(
            order, overdue=late > 0, days_overdue=late, subject=subject, body=body
        )
        _reminder.recipients = published.notified
        _reminder.save(update_fields=["recipients"])
        return True


def send_payment_reminders(*, today: date | None = None) -> ReminderReport:
    """Remind buyers of unpaid accepted orders: once `PAYMENT_REMINDER_DAYS_BEFORE` days before
    the due date (until it), once on the due date, and once after it (overdue: the first run
    after the due date, which is also the one reminder when the runs around the due date were
    missed). Events `payment.due` and `payment.overdue` go with them (the overdue one to the
    supplier too). Idempotent: a reminder row per order, kind and due date is written with the
    e-mail, so running twice sends once. Each order in its own short transaction."""
    today = today or timezone.localdate()
    before = settings.PAYMENT_REMINDER_DAYS_BEFORE
    report = ReminderReport()
    due_soon = unpaid_accepted_orders().filter(
        payment_due_date__gt=today, payment_due_date__lte=today + timedelta(days=before)
    )
    due_now = unpaid_accepted_orders().filter(payment_due_date=today)
    overdue = unpaid_accepted_orders().filter(payment_due_date__lt=today)
    for kind, orders in (
        (PaymentReminderKind.BEFORE_DUE, due_soon),
        (PaymentReminderKind.ON_DUE, due_now),
        (PaymentReminderKind.OVERDUE, overdue),
    ):
        for order_id, number in orders.order_by("payment_due_date", "pk").values_list(
            "pk", "number"
        ):
            if _remind(order_id, kind, today):
                report.sent += 1
                report.orders.append(number)
            else:
                report.already_sent += 1
    logger.info("Payment reminders: %s sent, %s already sent", report.sent, report.already_sent)
    return report
