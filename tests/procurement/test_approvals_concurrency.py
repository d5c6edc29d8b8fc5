"""Approvals racing on real concurrent PostgreSQL connections: the budget is never exceeded,
and one request approved twice at once is checked out once."""

from decimal import Decimal

import pytest

from catalog.models import ProductVariant
from procurement.models import Checkout, Order, PurchaseRequest, PurchaseRequestStatus
from procurement.services import approvals, budgets
from tests.factories import AgencyFactory
from tests.procurement.flows import stocked_variant
from tests.procurement.test_approvals import approver_of, member, request, set_budget
from tests.procurement.test_concurrency import run_concurrently

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def approving(user, purchase_request):
    return lambda: approvals.purchase_request_approve(
        acting_user=user, request_id=purchase_request.pk
    )


def test_approvers_racing_never_take_the_budget_past_its_amount():
    agency = AgencyFactory(approval_threshold=Decimal("100.00"))
    set_budget(agency, "1000.00")
    buyer = member(agency)
    approvers = [approver_of(agency) for _ in range(6)]
    variant = stocked_variant(stock=1000, price="100.00")
    requests = [request(buyer, (variant, 4)) for _ in approvers]  # ¥400 each: two fit
    results = run_concurrently(
        [approving(user, req) for user, req in zip(approvers, requests, strict=True)]
    )
    approved = [r for r in results if r[0] == "ok"]
    refused = [r[1] for r in results if r[0] == "error"]
    assert len(approved) == 2
    assert {error.code for error in refused} == {"BUDGET_EXCEEDED"}
    (figures,) = budgets.figures(agency.pk, budgets.budget_year())
    assert figures.committed == Decimal("800.00")
    assert ProductVariant.objects.get(pk=variant.pk).stock == 1000 - 8
    statuses = sorted(PurchaseRequest.objects.values_list("status", flat=True))
    assert statuses == [PurchaseRequestStatus.APPROVED] * 2 + [PurchaseRequestStatus.PENDING] * 4


def test_one_request_approved_by_two_approvers_at_once_is_checked_out_once():
    agency = AgencyFactory(approval_threshold=Decimal("100.00"))
    buyer = member(agency)
    variant = stocked_variant(stock=100, price="100.00")
    pending = request(buyer, (variant, 4))
    results = run_concurrently([approving(approver_of(agency), pending) for _ in range(4)])
    assert [r[0] for r in results] == ["ok"] * 4
    assert Checkout.objects.count() == 1
    assert Order.objects.count() == 1
    assert ProductVariant.objects.get(pk=variant.pk).stock == 96
