"""Approval and budgets through the API: a checkout above the agency's threshold becomes a
purchase request that reserves nothing until an approver approves it (checked out as a checkout
is, within the budgets) or declines it; refusals change nothing."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from catalog.models import ProductVariant
from procurement.models import Checkout, Order, PurchaseRequest, PurchaseRequestStatus
from procurement.services import approvals, budgets, orders
from shop.accounts.models import Role
from shop.core.models import AuditEvent
from tests.factories import AgencyFactory, UserFactory
from tests.procurement import flows
from tests.procurement.flows import buyer, staff_of, stocked_variant


def member(agency, *, can_buy=True, can_approve=False):
    """An agency member with the given duties (set by an operator, as in production), loaded
    afresh as a request loads its user (the object the factory made holds the membership row
    as it was before the duties were set)."""
    from shop.accounts.models import User

    user = UserFactory(role=Role.AGENCY, agency=agency)
    approvals.agency_member_duties_set(
        acting_user=UserFactory(role=Role.OPERATOR),
        user_id=user.pk,
        can_buy=can_buy,
        can_approve=can_approve,
    )
    return User.objects.with_organisations().get(pk=user.pk)


def approver_of(agency):
    return member(agency, can_buy=False, can_approve=True)


def set_budget(agency, amount, line=""):
    return approvals.agency_budget_set(
        acting_user=UserFactory(role=Role.OPERATOR),
        agency_id=agency.pk,
        year=budgets.budget_year(),
        line=line,
        amount=amount,
    )


def request(user, *lines, budget_line=""):
    return approvals.purchase_request_create(
        acting_user=user,
        lines=[flows.checkout.CheckoutLine(variant.pk, quantity) for variant, quantity in lines],
        shipping=flows.ADDRESS,
        idempotency_key=uuid.uuid4().hex,
        budget_line=budget_line,
    )


def approve(user, purchase_request):
    return approvals.purchase_request_approve(acting_user=user, request_id=purchase_request.pk)


BASKET_ARGS = """lines: [{variantId: $v, quantity: $q}], idempotencyKey: $key,
  shippingAddress: {recipient: "王老师", phone: "0591-1", address: "福州市鼓楼区"}"""
CHECKOUT = f"""mutation($v: ID!, $q: Int!, $key: String!) {{ checkoutCreate({BASKET_ARGS}) {{
  orders {{ id subtotal {{ amount }} }} errors {{ field code message }} }} }}"""
REQUEST = f"""mutation($v: ID!, $q: Int!, $key: String!, $line: String) {{
  purchaseRequestCreate({BASKET_ARGS}, budgetLine: $line) {{
  purchaseRequest {{ id status total {{ amount }} budgetLine orders {{ id }}
    requestedBy {{ email }} lines {{ variantId quantity }} }}
  errors {{ field code message }} }} }}"""
APPROVE = """mutation($id: ID!) { purchaseRequestApprove(id: $id) {
  purchaseRequest { id status decidedBy { email } orders { id } }
  orders { id subtotal { amount } status } errors { field code message } } }"""
DECLINE = """mutation($id: ID!, $r: String!) { purchaseRequestDecline(id: $id, reason: $r) {
  purchaseRequest { status declineReason decidedBy { email } } errors { field code } } }"""
BUDGETS = """query($a: ID!) { agencyBudgets(agencyId: $a) { year line amount { amount }
  committed { amount } pending { amount } available { amount } } }"""


def basket(variant, quantity, key=None, **more):
    return {
        "v": to_global_id("ProductVariant", variant.pk),
        "q": quantity,
        "key": key or uuid.uuid4().hex,
        **more,
    }


def payload(response, name):
    assert "errors" not in response, response
    return response["data"][name]


def codes(response, name):
    return [error["code"] for error in payload(response, name)["errors"]]


def state() -> dict:
    return {
        "checkouts": Checkout.objects.count(),
        "orders": sorted(Order.objects.values_list("pk", "status")),
        "requests": sorted(PurchaseRequest.objects.values_list("pk", "status")),
        "stock": sorted(ProductVariant.objects.values_list("pk", "stock")),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def agency(db):
    """An agency needing approval above ¥500, with a buyer and an approver."""
    agency = AgencyFactory(approval_threshold=Decimal("500.00"))
    return agency, member(agency), approver_of(agency)


def test_a_checkout_above_the_threshold_is_refused_with_approval_required_and_changes_nothing(
    gql, agency
):
    _agency, buyer_user, _approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    before = state()
    response = gql(CHECKOUT, basket(variant, 6), user=buyer_user)
    assert codes(response, "checkoutCreate") == ["APPROVAL_REQUIRED"]
    assert "purchaseRequestCreate" in payload(response, "checkoutCreate")["errors"][0]["message"]
    assert state() == before


def test_a_checkout_at_the_threshold_is_placed_as_before(gql, agency):
    _agency, buyer_user, _approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    placed = payload(gql(CHECKOUT, basket(variant, 5), user=buyer_user), "checkoutCreate")
    assert placed["errors"] == []
    assert [o["subtotal"]["amount"] for o in placed["orders"]] == ["500.00"]


def test_a_purchase_request_reserves_nothing(gql, agency):
    _agency, buyer_user, _approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    before = state()
    created = payload(gql(REQUEST, basket(variant, 6), user=buyer_user), "purchaseRequestCreate")
    assert created["errors"] == []
    assert created["purchaseRequest"] | {"id": None} == {
        "id": None,
        "status": "PENDING",
        "total": {"amount": "600.00"},
        "budgetLine": "",
        "orders": [],
        "requestedBy": {"email": buyer_user.email},
        "lines": [{"variantId": to_global_id("ProductVariant", variant.pk), "quantity": 6}],
    }
    after = state()
    assert (after["stock"], after["orders"], after["checkouts"]) == (
        before["stock"],
        before["orders"],
        before["checkouts"],
    )
    assert AuditEvent.objects.filter(action="purchase_request.create").count() == 1


def test_a_retried_purchase_request_returns_the_same_request(gql, agency):
    _agency, buyer_user, _approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    args = basket(variant, 6, key="retry-request-0001")
    first = payload(gql(REQUEST, args, user=buyer_user), "purchaseRequestCreate")
    again = payload(gql(REQUEST, args, user=buyer_user), "purchaseRequestCreate")
    assert again["purchaseRequest"]["id"] == first["purchaseRequest"]["id"]
    assert PurchaseRequest.objects.count() == 1


def test_a_key_reused_for_another_basket_is_refused(gql, agency):
    _agency, buyer_user, _approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    gql(REQUEST, basket(variant, 6, key="reused-request-01"), user=buyer_user)
    before = state()
    response = gql(REQUEST, basket(variant, 7, key="reused-request-01"), user=buyer_user)
    assert codes(response, "purchaseRequestCreate") == ["IDEMPOTENCY_KEY_REUSED"]
    assert state() == before


def test_a_purchase_request_for_an_unknown_product_is_refused_with_its_line(gql, agency):
    _agency, buyer_user, _approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    before = state()
    args = basket(variant, 1) | {"v": to_global_id("ProductVariant", variant.pk + 1000)}
    response = gql(REQUEST, args, user=buyer_user)
    errors = payload(response, "purchaseRequestCreate")["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("lines.0.variantId", "VARIANT_NOT_FOUND")]
    assert state() == before


def test_an_approval_checks_the_request_out_as_a_checkout(gql, agency):
    _agency, buyer_user, approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    pending = request(buyer_user, (variant, 6))
    approved = payload(
        gql(APPROVE, {"id": to_global_id("PurchaseRequest", pending.pk)}, user=approver),
        "purchaseRequestApprove",
    )
    assert approved["errors"] == []
    assert approved["purchaseRequest"]["status"] == "APPROVED"
    assert approved["purchaseRequest"]["decidedBy"] == {"email": approver.email}
    assert [(o["subtotal"]["amount"], o["status"]) for o in approved["orders"]] == [
        ("600.00", "PLACED")
    ]
    assert approved["purchaseRequest"]["orders"] == [{"id": o["id"]} for o in approved["orders"]]
    assert ProductVariant.objects.get(pk=variant.pk).stock == 94
    order = Order.objects.get()
    assert (order.checkout.placed_by, order.events.get().actor) == (buyer_user, approver)
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "purchase_request.approve",
        "order.place",
    }


def test_approving_an_approved_request_again_returns_its_orders_and_places_nothing(gql, agency):
    _agency, buyer_user, approver = agency
    variant = stocked_variant(stock=100, price="100.00")
    pending = request(buyer_user, (variant, 6))
    variables = {"id": to_global_id("PurchaseRequest", pending.pk)}
    first = payload(gql(APPROVE, variables, user=approver), "purchaseRequestApprove")
    before = state()
    again = payload(gql(APPROVE, variables, user=approver), "purchaseRequestApprove")
    assert again["errors"] == []
    assert again["orders"] == first["orders"]
    assert state() == before


def test_a_buyer_cannot_approve(gql, agency):
    _agency, buyer_user, _approver = agency
    pending = request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6))
    before = state()
    response = gql(APPROVE, {"id": to_global_id("PurchaseRequest", pending.pk)}, user=buyer_user)
    assert codes(response, "purchaseRequestApprove") == ["NOT_AN_APPROVER"]
    assert state() == before


def test_an_approver_cannot_approve_their_own_request_unless_the_agency_allows_it(gql, agency):
    agency_row, _buyer, _approver = agency
    both = member(agency_row, can_buy=True, can_approve=True)
    pending = request(both, (stocked_variant(stock=100, price="100.00"), 6))
    variables = {"id": to_global_id("PurchaseRequest", pending.pk)}
    before = state()
    assert codes(gql(APPROVE, variables, user=both), "purchaseRequestApprove") == ["SELF_APPROVAL"]
    assert state() == before
    approvals.agency_settings_update(
        acting_user=UserFactory(role=Role.OPERATOR),
        agency_id=agency_row.pk,
        allow_self_approval=True,
    )
    assert codes(gql(APPROVE, variables, user=both), "purchaseRequestApprove") == []


def test_an_approval_when_stock_ran_out_is_refused_and_the_request_stays_pending(gql, agency):
    _agency, buyer_user, approver = agency
    plenty = stocked_variant(stock=100, price="100.00")
    scarce = stocked_variant(stock=10, price="50.00")
    pending = request(buyer_user, (plenty, 4), (scarce, 8))
    ProductVariant.objects.filter(pk=scarce.pk).update(stock=3)
    before = state()
    response = gql(APPROVE, {"id": to_global_id("PurchaseRequest", pending.pk)}, user=approver)
    assert codes(response, "purchaseRequestApprove") == ["INSUFFICIENT_STOCK"]
    assert state() == before  # all or nothing: the plentiful line was not placed either
    assert PurchaseRequest.objects.get().status == PurchaseRequestStatus.PENDING


def test_an_approval_over_the_budget_is_refused_and_changes_nothing(gql, agency):
    agency_row, buyer_user, approver = agency
    set_budget(agency_row, "1000.00")
    variant = stocked_variant(stock=100, price="100.00")
    approve(approver, request(buyer_user, (variant, 6)))
    pending = request(buyer_user, (variant, 5))
    before = state()
    response = gql(APPROVE, {"id": to_global_id("PurchaseRequest", pending.pk)}, user=approver)
    errors = payload(response, "purchaseRequestApprove")["errors"]
    assert [e["code"] for e in errors] == ["BUDGET_EXCEEDED"]
    assert "¥400.00 left of ¥1000.00" in errors[0]["message"]
    assert state() == before
    assert PurchaseRequest.objects.get(pk=pending.pk).status == PurchaseRequestStatus.PENDING


def test_an_approval_over_its_budget_line_is_refused_though_the_agency_has_money_left(gql, agency):
    agency_row, buyer_user, approver = agency
    set_budget(agency_row, "100000.00")
    set_budget(agency_row, "700.00", line="食堂")
    pending = request(
        buyer_user, (stocked_variant(stock=100, price="100.00"), 8), budget_line="食堂"
    )
    before = state()
    response = gql(APPROVE, {"id": to_global_id("PurchaseRequest", pending.pk)}, user=approver)
    errors = payload(response, "purchaseRequestApprove")["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("budgetLine", "BUDGET_EXCEEDED")]
    assert state() == before


def test_a_direct_checkout_over_the_budget_is_refused(gql, agency):
    agency_row, buyer_user, _approver = agency
    set_budget(agency_row, "300.00")
    variant = stocked_variant(stock=100, price="100.00")
    before = state()
    response = gql(CHECKOUT, basket(variant, 4), user=buyer_user)
    assert codes(response, "checkoutCreate") == ["BUDGET_EXCEEDED"]
    assert state() == before


def test_a_request_naming_an_unknown_budget_line_is_refused(gql, agency):
    agency_row, buyer_user, _approver = agency
    set_budget(agency_row, "1000.00", line="食堂")
    args = basket(stocked_variant(stock=100, price="100.00"), 6, line="工会")
    before = state()
    response = gql(REQUEST, args, user=buyer_user)
    assert [
        (e["field"], e["code"]) for e in payload(response, "purchaseRequestCreate")["errors"]
    ] == [("budgetLine", "NOT_FOUND")]
    assert state() == before


def test_budgets_show_committed_pending_and_available(gql, agency):
    agency_row, buyer_user, approver = agency
    set_budget(agency_row, "5000.00")
    set_budget(agency_row, "2000.00", line="食堂")
    variant = stocked_variant(stock=100, price="100.00")
    approve(approver, request(buyer_user, (variant, 6), budget_line="食堂"))
    flows.place(buyer_user, (variant, 3))
    request(buyer_user, (variant, 7), budget_line="食堂")
    request(buyer_user, (variant, 9))
    figures = gql(BUDGETS, {"a": to_global_id("Agency", agency_row.pk)}, user=buyer_user)
    assert [
        (b["line"], b["amount"]["amount"], b["committed"]["amount"], b["pending"]["amount"])
        + (b["available"]["amount"],)
        for b in figures["data"]["agencyBudgets"]
    ] == [
        ("", "5000.00", "900.00", "1600.00", "4100.00"),
        ("食堂", "2000.00", "600.00", "700.00", "1400.00"),
    ]


def committed(agency_row, line=""):
    (figure,) = [
        f for f in budgets.figures(agency_row.pk, budgets.budget_year()) if f.budget.line == line
    ]
    return figure.committed


def test_an_order_cancelled_by_the_agency_gives_its_budget_back(agency):
    agency_row, buyer_user, approver = agency
    set_budget(agency_row, "1000.00")
    approve(approver, request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6)))
    assert committed(agency_row) == Decimal("600.00")
    orders.order_cancel(acting_user=buyer_user, order_id=Order.objects.get().pk, reason="改期")
    assert committed(agency_row) == Decimal("0.00")


def test_an_order_refused_by_its_supplier_gives_its_budget_back_for_another_approval(agency):
    agency_row, buyer_user, approver = agency
    set_budget(agency_row, "1000.00")
    variant = stocked_variant(stock=100, price="100.00")
    approve(approver, request(buyer_user, (variant, 6)))
    second = request(buyer_user, (variant, 6))
    with pytest.raises(flows.checkout.DomainError) as refused:
        approve(approver, second)
    assert refused.value.code == "BUDGET_EXCEEDED"
    order = Order.objects.get()
    orders.order_reject(acting_user=staff_of(order.supplier), order_id=order.pk, reason="缺货")
    approve(approver, second)
    assert committed(agency_row) == Decimal("600.00")


def test_an_order_accepted_in_part_commits_its_accepted_value(agency):
    agency_row, buyer_user, approver = agency
    set_budget(agency_row, "1000.00")
    approve(approver, request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6)))
    order = Order.objects.get()
    flows.to_accepted(order, buyer_user, {order.lines.get().pk: 4})
    assert committed(agency_row) == Decimal("400.00")


def test_a_decline_records_its_reason_and_reserves_nothing(gql, agency):
    _agency, buyer_user, approver = agency
    pending = request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6))
    before = state()
    response = gql(
        DECLINE,
        {"id": to_global_id("PurchaseRequest", pending.pk), "r": "超出本季度计划"},
        user=approver,
    )
    assert payload(response, "purchaseRequestDecline") == {
        "purchaseRequest": {
            "status": "DECLINED",
            "declineReason": "超出本季度计划",
            "decidedBy": {"email": approver.email},
        },
        "errors": [],
    }
    after = state()
    assert (after["stock"], after["orders"]) == (before["stock"], before["orders"])
    assert AuditEvent.objects.get(action="purchase_request.decline").reason == "超出本季度计划"


def test_a_decline_without_a_reason_is_refused(gql, agency):
    _agency, buyer_user, approver = agency
    pending = request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6))
    before = state()
    response = gql(
        DECLINE, {"id": to_global_id("PurchaseRequest", pending.pk), "r": "  "}, user=approver
    )
    assert payload(response, "purchaseRequestDecline")["errors"] == [
        {"field": "reason", "code": "REQUIRED"}
    ]
    assert state() == before


@pytest.mark.parametrize("first", ["approve", "decline"])
def test_a_decided_request_cannot_be_decided_otherwise(gql, agency, first):
    _agency, buyer_user, approver = agency
    pending = request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6))
    variables = {"id": to_global_id("PurchaseRequest", pending.pk), "r": "不需要"}
    if first == "approve":
        approve(approver, pending)
        query, name = DECLINE, "purchaseRequestDecline"
    else:
        gql(DECLINE, variables, user=approver)
        query, name = APPROVE, "purchaseRequestApprove"
    before = state()
    assert codes(gql(query, variables, user=approver), name) == ["INVALID_TRANSITION"]
    assert state() == before


def test_a_member_without_the_buyer_duty_cannot_check_out(gql, agency):
    _agency, _buyer, approver = agency
    args = basket(stocked_variant(stock=100, price="10.00"), 1)
    before = state()
    response = gql(CHECKOUT, args, user=approver)
    assert codes(response, "checkoutCreate") == ["NOT_A_BUYER"]
    assert state() == before


SETTINGS = """mutation($a: ID!, $t: Decimal, $s: Boolean) {
  agencySettingsUpdate(agencyId: $a, approvalThreshold: $t, allowSelfApproval: $s) {
  agency { approvalThreshold { amount } allowSelfApproval } errors { field code } } }"""


def test_a_null_threshold_turns_approval_off(gql, agency):
    agency_row, buyer_user, approver = agency
    changed = payload(
        gql(SETTINGS, {"a": to_global_id("Agency", agency_row.pk), "t": None}, user=approver),
        "agencySettingsUpdate",
    )
    assert changed["agency"] == {"approvalThreshold": None, "allowSelfApproval": False}
    placed = gql(CHECKOUT, basket(stocked_variant(stock=100, price="100.00"), 9), user=buyer_user)
    assert codes(placed, "checkoutCreate") == []


def test_settings_left_out_are_unchanged(gql, agency):
    agency_row, _buyer, approver = agency
    query = """mutation($a: ID!) { agencySettingsUpdate(agencyId: $a, allowSelfApproval: true) {
      agency { approvalThreshold { amount } allowSelfApproval } errors { code } } }"""
    changed = payload(
        gql(query, {"a": to_global_id("Agency", agency_row.pk)}, user=approver),
        "agencySettingsUpdate",
    )
    assert changed["agency"] == {
        "approvalThreshold": {"amount": "500.00"},
        "allowSelfApproval": True,
    }


@pytest.mark.parametrize("threshold", ["-1", "0.001", "1e20", "NaN"])
def test_a_bad_threshold_is_refused_and_changes_nothing(gql, agency, threshold):
    agency_row, _buyer, approver = agency
    audit = AuditEvent.objects.count()
    response = gql(
        SETTINGS, {"a": to_global_id("Agency", agency_row.pk), "t": threshold}, user=approver
    )
    if threshold == "NaN":  # the Decimal scalar itself refuses it, before any resolver
        assert [e["extensions"]["code"] for e in response["errors"]] == ["BAD_USER_INPUT"]
    else:
        assert payload(response, "agencySettingsUpdate")["errors"] == [
            {"field": "approvalThreshold", "code": "INVALID_AMOUNT"}
        ]
    agency_row.refresh_from_db()
    assert agency_row.approval_threshold == Decimal("500.00")
    assert AuditEvent.objects.count() == audit


BUDGET_SET = """mutation($a: ID!, $y: Int!, $amount: Decimal!, $line: String) {
  agencyBudgetSet(agencyId: $a, year: $y, amount: $amount, line: $line) {
  budget { year line amount { amount } committed { amount } available { amount } }
  errors { field code } } }"""


def test_an_approver_sets_a_budget(gql, agency):
    agency_row, _buyer, approver = agency
    year = budgets.budget_year()
    variables = {
        "a": to_global_id("Agency", agency_row.pk),
        "y": year,
        "amount": "8000",
        "line": "工会",
    }
    result = payload(gql(BUDGET_SET, variables, user=approver), "agencyBudgetSet")
    assert result == {
        "budget": {
            "year": year,
            "line": "工会",
            "amount": {"amount": "8000.00"},
            "committed": {"amount": "0.00"},
            "available": {"amount": "8000.00"},
        },
        "errors": [],
    }
    assert AuditEvent.objects.filter(action="agency.budget_set").count() == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount": "-5"}, {"field": "amount", "code": "INVALID_AMOUNT"}),
        ({"y": 1800}, {"field": "year", "code": "INVALID"}),
        ({"line": "科" * 65}, {"field": "line", "code": "INVALID"}),
    ],
)
def test_a_bad_budget_is_refused_and_changes_nothing(gql, agency, change, error):
    agency_row, _buyer, approver = agency
    variables = {
        "a": to_global_id("Agency", agency_row.pk),
        "y": budgets.budget_year(),
        "amount": "1",
    }
    audit = AuditEvent.objects.count()
    response = gql(BUDGET_SET, variables | change, user=approver)
    assert payload(response, "agencyBudgetSet")["errors"] == [error]
    assert not agency_row.budgets.exists()
    assert AuditEvent.objects.count() == audit


DUTIES = """mutation($u: ID!, $b: Boolean!, $a: Boolean!) {
  agencyMemberDutiesSet(userId: $u, canBuy: $b, canApprove: $a) {
  member { user { email } canBuy canApprove } errors { field code } } }"""


def test_an_approver_gives_a_buyer_the_approver_duty(gql, agency):
    _agency, buyer_user, approver = agency
    variables = {"u": to_global_id("User", buyer_user.pk), "b": True, "a": True}
    result = payload(gql(DUTIES, variables, user=approver), "agencyMemberDutiesSet")
    assert result == {
        "member": {"user": {"email": buyer_user.email}, "canBuy": True, "canApprove": True},
        "errors": [],
    }
    members = gql(
        """query($a: ID!) { agencyMembers(agencyId: $a) { user { email } canBuy canApprove } }""",
        {"a": to_global_id("Agency", buyer_user.agency_id)},
        user=buyer_user,
    )["data"]["agencyMembers"]
    assert {m["user"]["email"]: (m["canBuy"], m["canApprove"]) for m in members} == {
        buyer_user.email: (True, True),
        approver.email: (False, True),
    }


def test_a_user_loaded_as_a_request_does_brings_their_duties(agency):
    """`with_organisations` (how a request loads its user) joins the agency duties too, so the
    duties every checkout and approval asks about cost no statement; a member without a row
    has the defaults."""
    from procurement import membership
    from shop.accounts.models import User

    record, buyer_, approver = agency
    plain = UserFactory(role=Role.AGENCY, agency=record)
    users = User.objects.with_organisations().filter(pk__in=[buyer_.pk, approver.pk, plain.pk])
    loaded = {user.pk: user for user in users}
    with CaptureQueriesContext(connection) as queries:
        duties = [membership.duties_of(loaded[u.pk]) for u in (buyer_, approver, plain)]
    assert duties == [(True, False), (False, True), membership.DEFAULT_DUTIES]
    assert len(queries) == 0
    # a user loaded otherwise reads them
    plainly_loaded = User.objects.get(pk=approver.pk)
    with CaptureQueriesContext(connection) as queries:
        assert membership.duties_of(plainly_loaded) == (False, True)
    assert len(queries) == 1


def test_an_approver_cannot_change_their_own_duties(gql, agency):
    _agency, _buyer, approver = agency
    audit = AuditEvent.objects.count()
    variables = {"u": to_global_id("User", approver.pk), "b": True, "a": True}
    response = gql(DUTIES, variables, user=approver)
    assert payload(response, "agencyMemberDutiesSet")["errors"] == [
        {"field": "userId", "code": "SELF_APPROVAL"}
    ]
    approver.agency_membership.refresh_from_db()
    assert approver.agency_membership.can_buy is False
    assert AuditEvent.objects.count() == audit


def test_duties_are_only_for_agency_members(gql, agency):
    operator = UserFactory(role=Role.OPERATOR)
    supplier_staff = staff_of(stocked_variant().product.supplier)
    variables = {"u": to_global_id("User", supplier_staff.pk), "b": True, "a": True}
    response = gql(DUTIES, variables, user=operator)
    assert payload(response, "agencyMemberDutiesSet")["errors"] == [
        {"field": "userId", "code": "NOT_FOUND"}
    ]


LIST = """{ purchaseRequests(first: 50) { totalCount edges { node { id status total { amount }
  requestedBy { email } decidedBy { email } agency { name } orders { id number } } } } }"""


def test_listing_purchase_requests_makes_the_same_queries_for_one_or_many(gql, agency):
    agency_row, buyer_user, approver = agency
    variant = stocked_variant(stock=1000, price="100.00")

    def listing_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = gql(LIST, user=approver)
        assert "errors" not in response, response
        return len(queries)

    approve(approver, request(buyer_user, (variant, 6)))
    one = listing_queries()
    for _ in range(4):
        approve(approver, request(buyer_user, (variant, 6)))
        request(buyer_user, (variant, 7))
    assert listing_queries() == one


def test_an_agency_sees_only_its_own_purchase_requests(gql, agency):
    _agency, buyer_user, _approver = agency
    mine = request(buyer_user, (stocked_variant(stock=100, price="100.00"), 6))
    other = buyer()
    request(other, (stocked_variant(stock=100, price="100.00"), 6))
    seen = gql(LIST, user=buyer_user)["data"]["purchaseRequests"]["edges"]
    assert [e["node"]["id"] for e in seen] == [to_global_id("PurchaseRequest", mine.pk)]
    assert (
        gql(LIST, user=UserFactory(role=Role.AUDITOR))["data"]["purchaseRequests"]["totalCount"]
        == 2
    )


def test_a_buyer_cannot_use_the_key_shape_of_an_approval(gql, agency):
    _agency, buyer_user, _approver = agency
    args = basket(stocked_variant(stock=100, price="10.00"), 1, key="purchase-request/1")
    before = state()
    response = gql(CHECKOUT, args, user=buyer_user)
    errors = payload(response, "checkoutCreate")["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("idempotencyKey", "INVALID")]
    assert state() == before
