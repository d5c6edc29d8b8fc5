"""The scheduled admission-and-exit rules, with a frozen clock."""

from datetime import timedelta

import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from catalog import hooks
from catalog.models import QualificationReminder, SupplierStatus, SupplierTransition
from catalog.services.rules import run_rules
from shop.accounts.models import Role
from shop.core.models import AuditEvent, Notification
from tests.factories import ProductFactory, SupplierFactory, UserFactory
from tests.factories.catalog import in_days


def supplier_with_licence_expiring_in(days: int):
    supplier = SupplierFactory()
    UserFactory(role=Role.SUPPLIER, supplier=supplier, email=f"staff{supplier.pk}@supplier.cn")
    supplier.qualifications.filter(kind="FOOD_LICENCE").update(expires_on=in_days(days))
    return supplier


def run_on(day_offset: int, django_capture_on_commit_callbacks):
    with (
        time_machine.travel(timezone.now() + timedelta(days=day_offset), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        return run_rules()


def test_each_reminder_is_sent_once_at_90_30_and_7_days(db, django_capture_on_commit_callbacks):
    supplier = supplier_with_licence_expiring_in(100)
    sent_on = {}
    for offset in range(0, 100):
        report = run_on(offset, django_capture_on_commit_callbacks)
        if report.reminders:
            sent_on[offset] = len(report.reminders)
    # 100 days out: 90 days left on day 10, 30 on day 70, 7 on day 93.
    assert sent_on == {10: 1, 70: 1, 93: 1}
    assert sorted(QualificationReminder.objects.values_list("days_before", flat=True)) == [
        7,
        30,
        90,
    ]
    assert Notification.objects.filter(user__supplier_membership__supplier=supplier).count() == 3
    # Each reminder goes to the supplier's staff and to its contact address.
    recipients = {supplier.staff.get().email, supplier.contact_email}
    assert len(mail.outbox) == 3 * len(recipients)
    assert {to for message in mail.outbox for to in message.to} == recipients
    assert "食品生产/经营许可证将于90天后到期" in mail.outbox[0].subject


def test_a_late_first_run_sends_only_the_tightest_reminder(db, django_capture_on_commit_callbacks):
    supplier_with_licence_expiring_in(5)
    assert len(run_on(0, django_capture_on_commit_callbacks).reminders) == 1
    assert list(QualificationReminder.objects.values_list("days_before", flat=True)) == [7]
    assert run_on(0, django_capture_on_commit_callbacks).reminders == []


def test_a_renewed_qualification_gets_no_reminder(db, django_capture_on_commit_callbacks):
    supplier = supplier_with_licence_expiring_in(20)
    supplier.qualifications.create(kind="FOOD_LICENCE", number="SC-NEW", expires_on=in_days(1000))
    assert run_on(0, django_capture_on_commit_callbacks).reminders == []


def test_expired_required_qualification_suspends_and_takes_products_off_sale(
    gql, django_capture_on_commit_callbacks
):
    supplier = supplier_with_licence_expiring_in(3)
    ProductFactory(supplier=supplier)
    assert gql("{ products { totalCount } }")["data"]["products"]["totalCount"] == 1
    report = run_on(4, django_capture_on_commit_callbacks)
    assert len(report.suspended) == 1
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.SUSPENDED
    transition = SupplierTransition.objects.get()
    assert transition.actor is None
    assert transition.note.startswith("资质过期: 食品生产/经营许可证")
    assert AuditEvent.objects.get(action="supplier.suspend").actor_email == ""
    assert gql("{ products { totalCount } }")["data"]["products"]["totalCount"] == 0
    # Running again changes nothing.
    assert run_on(5, django_capture_on_commit_callbacks).suspended == []
    assert SupplierTransition.objects.count() == 1


def test_upheld_complaints_at_the_limit_exit_the_supplier(db, django_capture_on_commit_callbacks):
    calm, troubled = SupplierFactory(), SupplierFactory()
    previous = hooks.upheld_quality_complaints
    # A counter of our own stands in for procurement's complaints (tested end to end there).
    hooks.set_complaint_counter(lambda since: {calm.pk: 2, troubled.pk: 3})
    try:
        report = run_on(0, django_capture_on_commit_callbacks)
    finally:
        hooks.set_complaint_counter(previous)
    assert len(report.exited) == 1
    calm.refresh_from_db()
    troubled.refresh_from_db()
    assert (calm.status, troubled.status) == (SupplierStatus.ADMITTED, SupplierStatus.EXITED)


def test_command_prints_what_it_did(db, capsys):
    supplier_with_licence_expiring_in(30)
    call_command("catalog_rules")
    out = capsys.readouterr().out
    assert "reminders sent: 1" in out
    assert "suspended: 0" in out
