"""The whole `demo_data` command on the test database: five years of orders replayed through
the real services leave a ledger that verifies and reconciles, and a second run adds nothing."""

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models.functions import ExtractYear
from django.utils import timezone
from stdnum.cn import uscc

from catalog.models import City
from procurement import ledger
from procurement.models import (
    Agency,
    AgencyType,
    Checkout,
    Complaint,
    ComplaintStatus,
    ContributionEntry,
    ContributionKind,
    ContributionSource,
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentState,
    PaymentStatus,
    Refund,
    ReservedSharePlan,
)
from procurement.services.complaints import upheld_quality_complaints_since
from shop.accounts.demo import DEMO_ACCOUNTS
from shop.accounts.models import Role, User
from shop.core.models import AuditEvent

pytestmark = pytest.mark.smoke

COUNTED = (
    Agency,
    User,
    Checkout,
    Order,
    Payment,
    Refund,
    Complaint,
    ReservedSharePlan,
    ContributionEntry,
    AuditEvent,
)


def test_demo_data(db):
    """One run of the whole command (it takes a while), then every check on it."""
    call_command("demo_data")
    orders_in_every_state_paid_by_transfer()
    agencies_cover_fujian()
    ledger_verifies_reconciles_and_spans_every_year()
    complaints_without_exiting_anyone()
    demo_scans_are_private()
    second_run_adds_nothing()


def orders_in_every_state_paid_by_transfer():
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    assert set(Order.objects.values_list("payment_status", flat=True)) == set(PaymentStatus.values)
    assert 300 <= Order.objects.count() <= 800
    # Card payments need the gateway mock over HTTP, which does not run during `demo_data`.
    succeeded = Payment.objects.filter(state=PaymentState.SUCCEEDED)
    assert set(succeeded.values_list("method", flat=True)) == {PaymentMethod.BANK_TRANSFER}
    # … so the demo agency has accepted orders left to pay by card once the server runs.
    demo_buyer = User.objects.get(email=DEMO_ACCOUNTS[Role.AGENCY])
    assert demo_buyer.agency is not None
    assert demo_buyer.agency.orders.filter(
        status=OrderStatus.ACCEPTED, payment_status=PaymentStatus.UNPAID
    ).exists()
    partial = Order.objects.filter(status__in=(OrderStatus.ACCEPTED, OrderStatus.COMPLETED))
    assert any(o.accepted_value < o.subtotal for o in partial)
    reasons = Counter(
        Order.objects.filter(status=OrderStatus.CANCELLED).values_list("events__kind", flat=True)
    )
    assert reasons["cancelled"]
    assert reasons["rejected"]


def demo_scans_are_private():
    """The demo supplier's qualification scans exist, in the private storage only."""
    from pathlib import Path

    staff = User.objects.get(email=DEMO_ACCOUNTS[Role.SUPPLIER])
    names = [q.file.name for q in staff.supplier.qualifications.all()]
    assert names and all(names)  # noqa: PT018
    assert all((Path(settings.PRIVATE_MEDIA_ROOT) / name).is_file() for name in names)
    assert not (Path(settings.MEDIA_ROOT) / "qualifications").exists()


def agencies_cover_fujian():
    agencies = Agency.objects.all()
    assert 25 <= agencies.count() <= 40
    assert set(agencies.values_list("type", flat=True)) == set(AgencyType.values)
    assert set(agencies.values_list("city", flat=True)) == set(
        City.objects.values_list("pk", flat=True)
    )
    codes = list(agencies.values_list("credit_code", flat=True))
    assert all(uscc.is_valid(code) for code in codes)
    assert {code[2:4] for code in codes} == {"35"}  # registered in Fujian
    plans = ReservedSharePlan.objects.all()
    assert {p.year for p in plans} == {2024, 2025, 2026}
    assert all(p.no_canteen or Decimal("0.10") <= p.ratio <= Decimal("0.20") for p in plans)
    assert plans.filter(no_canteen=True).exists()
    assert Agency.objects.filter(name="厦门宁夏名特优农产品集散中心").exists()


def ledger_verifies_reconciles_and_spans_every_year():
    assert ledger.verify().ok
    _expected, _booked, differences = ledger.reconcile()
    assert differences == []
    call_command("ledger_verify")
    call_command("ledger_reconcile")  # raises CommandError on any difference
    years = set(
        ContributionEntry.objects.annotate(year=ExtractYear("business_date")).values_list(
            "year", flat=True
        )
    )
    assert set(range(2021, timezone.localdate().year + 1)) <= years
    sources = set(ContributionEntry.objects.values_list("source", flat=True))
    assert sources == {
        ContributionSource.ORDER,
        ContributionSource.REFUND,
        ContributionSource.IMPORT,
    }
    assert set(ContributionEntry.objects.values_list("kind", flat=True)) == set(
        ContributionKind.values
    )
    assert ContributionEntry.objects.filter(channel="832").count() == 20
    # Replayed in calendar order: booking times never go back along the chain.
    booked = list(
        ContributionEntry.objects.order_by("position").values_list("booked_at", flat=True)
    )
    assert booked == sorted(booked)


def complaints_without_exiting_anyone():
    assert set(Complaint.objects.values_list("status", flat=True)) == set(ComplaintStatus.values)
    counts = upheld_quality_complaints_since(datetime(2000, 1, 1, tzinfo=UTC))
    assert counts
    assert max(counts.values()) < settings.SUPPLIER_EXIT_COMPLAINTS


def second_run_adds_nothing():
    before = {model: model.objects.count() for model in COUNTED}
    call_command("demo_data")
    assert {model: model.objects.count() for model in COUNTED} == before
    assert ledger.verify().ok
