"""The automatic admission-and-exit rules, run by the worker's periodic job
`catalog.jobs.catalog_rules` (or `manage.py catalog_rules` by hand).

Every rule is idempotent: a reminder is sent once per qualification and threshold (a unique
row records it), and a supplier already suspended or exited is left alone, so running the
command every few minutes changes nothing twice.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import hooks, notifications
from catalog.models import (
    REQUIRED_QUALIFICATIONS,
    Qualification,
    QualificationReminder,
    Supplier,
    SupplierStatus,
)
from catalog.services.suppliers import expired_required_qualifications, supplier_withdraw_by_rule

# Suppliers whose documents matter: everyone not rejected or gone.
ACTIVE_STATUSES = (
    SupplierStatus.APPLIED,
    SupplierStatus.RECOMMENDED,
    SupplierStatus.ADMITTED,
    SupplierStatus.SUSPENDED,
)


@dataclass
class RulesReport:
    reminders: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    exited: list[str] = field(default_factory=list)


def _current_qualifications(today: date) -> list[Qualification]:
    """The newest qualification of each required kind of every active supplier."""
    newest: dict[tuple[int, str], Qualification] = {}
    rows = Qualification.objects.filter(
        supplier__status__in=ACTIVE_STATUSES, kind__in=REQUIRED_QUALIFICATIONS
    ).select_related("supplier")
    for qualification in rows:
        key = (qualification.supplier_id, qualification.kind)
        if key not in newest or qualification.expires_on > newest[key].expires_on:
            newest[key] = qualification
    return list(newest.values())


def _threshold(days_left: int) -> int | None:
    """The tightest reminder threshold reached: at 5 days left that is 7, not 90 and 30 too."""
    reached = [t for t in settings.QUALIFICATION_REMINDER_DAYS if 0 <= days_left <= t]
    return min(reached) if reached else None


def send_expiry_reminders(today: date, report: RulesReport) -> None:
    for qualification in _current_qualifications(today):
        days_left = (qualification.expires_on - today).days
        threshold = _threshold(days_left)
        if threshold is None:
            continue
        try:
            with transaction.atomic():
                QualificationReminder.objects.create(
                    qualification=qualification, days_before=threshold
                )
                notifications.qualification_expiring(qualification, days_left)
        except IntegrityError:
            continue  # already sent for this threshold
        report.reminders.append(
            f"{qualification.supplier.name}: {qualification} ({days_left} days)"
        )


def suspend_on_expiry(today: date, report: RulesReport) -> None:
    for supplier in Supplier.objects.filter(status=SupplierStatus.ADMITTED):
        with transaction.atomic():
            locked = Supplier.objects.select_for_update().get(pk=supplier.pk)
            if locked.status != SupplierStatus.ADMITTED:
                continue
            expired = expired_required_qualifications(locked, today)
            if not expired:
                continue
            reason = "资质过期: " + ", ".join(
                f"{q.get_kind_display()} {q.number} expired on {q.expires_on}" for q in expired
            )
            supplier_withdraw_by_rule(locked, SupplierStatus.SUSPENDED, reason=reason)
        report.suspended.append(f"{locked.name}: {reason}")


def exit_on_complaints(now, report: RulesReport) -> None:
    window = timedelta(days=settings.SUPPLIER_EXIT_COMPLAINT_WINDOW_DAYS)
    limit = settings.SUPPLIER_EXIT_COMPLAINTS
    counts = hooks.upheld_quality_complaints(now - window)
    for supplier_id, count in counts.items():
        if count < limit:
            continue
        with transaction.atomic():
            supplier = Supplier.objects.select_for_update().filter(pk=supplier_id).first()
            if supplier is None or supplier.status not in (
                SupplierStatus.ADMITTED,
                SupplierStatus.SUSPENDED,
            ):
                continue
            reason = f"{count} upheld quality complaints within {window.days} days (limit {limit})"
            supplier_withdraw_by_rule(supplier, SupplierStatus.EXITED, reason=reason)
        report.exited.append(f"{supplier.name}: {reason}")


def run_rules() -> RulesReport:
    """Run every rule once, as of now."""
    now = timezone.now()
    today = timezone.localdate(now)
    report = RulesReport()
    send_expiry_reminders(today, report)
    suspend_on_expiry(today, report)
    exit_on_complaints(now, report)
    return report
