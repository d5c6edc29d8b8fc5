"""Approval and budgets (docs/approvals.md): an agency's settings and its members' duties, its
annual budgets, and purchase requests — submitted by a buyer, approved (checked out exactly as
a checkout is, by the same `place_basket`) or declined by an approver."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from procurement import membership
from procurement.access import POLICIES, agency_for
from procurement.errors import ProcurementErrorCode
from procurement.models import (
    Agency,
    AgencyBudget,
    Checkout,
    Order,
    PurchaseRequest,
    PurchaseRequestStatus,
)
from procurement.services import budgets
from procurement.services.checkout import (
    APPROVAL_KEY_PREFIX,
    CheckoutLine,
    ShippingAddress,
    active_agency,
    buying_agency,
    check_request,
    checked_key,
    key_reused,
    payload_hash_of,
    place_basket,
    priced_basket,
)
from shop.accounts.models import Role
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, InvalidTransition, NotFound
from shop.core.permissions import require_role

UNCHANGED: Any = object()


def _require_approver(acting_user: Any) -> None:
    can_approve = membership.duties_of(acting_user)[1]
    if not can_approve:
        raise DomainError(
            "Only the agency's approvers may do this.", code=ProcurementErrorCode.NOT_AN_APPROVER
        )


def _managed_agency(acting_user: Any, agency_id: int | None, *, policy: str) -> Agency:
    """The agency, locked, if the caller manages it: an operator any, an approver their own
    (another agency's is answered like an unknown one)."""
    agency = agency_for(acting_user, agency_id, roles=POLICIES[policy], lock=True)
    if acting_user.role == Role.AGENCY:
        _require_approver(acting_user)
    return agency


@transaction.atomic
def agency_settings_update(
    *,
    acting_user: Any,
    agency_id: int | None,
    approval_threshold: Any = UNCHANGED,
    allow_self_approval: bool | None = None,
) -> Agency:
    """Set when approval is needed (a total above `approval_threshold`; None: never) and
    whether an approver may approve their own requests. Operators, or the agency's approvers."""
    agency = _managed_agency(acting_user, agency_id, policy="agencySettingsUpdate")
    changed: dict[str, Any] = {}
    if approval_threshold is not UNCHANGED:
        threshold = (
            None
            if approval_threshold is None
            else validation.money(
                approval_threshold,
                column=validation.column(Agency, "approval_threshold"),
                field="approvalThreshold",
                code=ProcurementErrorCode.INVALID_AMOUNT,
                sign="nonnegative",
            )
        )
        agency.approval_threshold = threshold
        changed["approvalThreshold"] = None if threshold is None else str(threshold)
    if allow_self_approval is not None:
        agency.allow_self_approval = bool(allow_self_approval)
        changed["allowSelfApproval"] = agency.allow_self_approval
    agency.save(update_fields=["approval_threshold", "allow_self_approval"])
    audit_record(actor=acting_user, action="agency.settings_update", target=agency, data=changed)
    return agency


@transaction.atomic
def agency_member_duties_set(
    *, acting_user: Any, user_id: int | None, can_buy: bool, can_approve: bool
) -> membership.Member:
    """Give an agency member the buyer and approver duties, or take them away. Operators, or
    the agency's approvers for its other members (not for themselves: an agency cannot lose
    its last approver by a slip, and nobody promotes themselves)."""
    require_role(acting_user, *POLICIES["agencyMemberDutiesSet"])
    member = get_user_model().objects.filter(pk=user_id, role=Role.AGENCY).first()
    agency_id = membership.agency_id_of(member) if member is not None else None
    if agency_id is None or (
        acting_user.role == Role.AGENCY and agency_id != membership.agency_id_of(acting_user)
    ):
        raise NotFound("No such member of an agency.", field="userId")
    if acting_user.role == Role.AGENCY:
        _require_approver(acting_user)
        if member.pk == acting_user.pk:
            raise DomainError(
                "Approvers cannot change their own duties; another approver or an operator can.",
                code=ProcurementErrorCode.SELF_APPROVAL,
                field="userId",
            )
    duties = membership.duties_set(member, can_buy=bool(can_buy), can_approve=bool(can_approve))
    audit_record(
        actor=acting_user,
        action="agency.member_duties_set",
        target=member,
        data={
            "agency": agency_id,
            "canBuy": bool(can_buy),
            "canApprove": bool(can_approve),
        },
    )
    return duties


@transaction.atomic
def agency_budget_set(
    *, acting_user: Any, agency_id: int | None, year: int, line: str = "", amount: Any
) -> AgencyBudget:
    """Set a year's budget for the agency (`line` empty) or one of its budget lines.
    Operators, or the agency's approvers. A budget may be set below what is already committed:
    nothing more is approved against it until orders are cancelled or it is raised."""
    agency = _managed_agency(acting_user, agency_id, policy="agencyBudgetSet")
    year = validation.year(year, code=ProcurementErrorCode.INVALID)
    line = validation.text(
        (line or "").strip(),
        column=validation.column(AgencyBudget, "line"),
        field="line",
        code=ProcurementErrorCode.INVALID,
    )
    amount = validation.money(
        amount,
        column=validation.column(AgencyBudget, "amount"),
        field="amount",
        code=ProcurementErrorCode.INVALID_AMOUNT,
        sign="nonnegative",
    )
    budget, _created = AgencyBudget.objects.update_or_create(
        agency=agency, year=year, line=line, defaults={"amount": amount}
    )
    audit_record(
        actor=acting_user,
        action="agency.budget_set",
        target=agency,
        data={"year": year, "line": line, "amount": str(amount)},
    )
    return budget


def _stored_lines(lines: list[CheckoutLine]) -> list[list[Any]]:
    """[variant id, quantity(, the line's own delivery address)] per line, as submitted."""
    return [
        [line.variant_id or 0, line.quantity, *([line.address] if line.address else [])]
        for line in lines
    ]


def _replay(request: PurchaseRequest, payload_hash: str) -> PurchaseRequest:
    if request.payload_hash != payload_hash:
        raise key_reused()
    return request


def purchase_request_create(
    *,
    acting_user: Any,
    lines: list[CheckoutLine],
    shipping: ShippingAddress,
    idempotency_key: str,
    ship_within_days: int = 7,
    budget_line: str = "",
) -> PurchaseRequest:
    """A buyer submits a basket for approval: checked and priced as a checkout is (so the
    buyer hears now about an unknown product or short stock), reserving nothing. Retrying with
    the same idempotency key returns the same request."""
    agency = buying_agency(acting_user, policy="purchaseRequestCreate")
    key = checked_key(idempotency_key)
    wanted = check_request(lines, shipping, ship_within_days)
    line = budgets.checked_line(agency.pk, budget_line) if budget_line else ""
    payload_hash = payload_hash_of(lines, shipping, ship_within_days, line)
    existing = PurchaseRequest.objects.filter(agency=agency, idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, payload_hash)
    basket = priced_basket(agency, lines, wanted, shipping, ship_within_days)
    try:
        with transaction.atomic():
            request = PurchaseRequest.objects.create(
                agency=agency,
                requested_by=acting_user,
                idempotency_key=key,
                payload_hash=payload_hash,
                lines=_stored_lines(lines),
                recipient=shipping.recipient.strip(),
                phone=shipping.phone.strip(),
                address=shipping.address.strip(),
                ship_within_days=ship_within_days,
                budget_line=line,
                total=basket.total,
            )
            audit_record(
                actor=acting_user,
                action="purchase_request.create",
                target=request,
                data={"total": str(basket.total), "budgetLine": line},
            )
    except IntegrityError:
        existing = PurchaseRequest.objects.filter(agency=agency, idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, payload_hash)
    return request


def _deciding_agency(acting_user: Any, *, policy: str) -> Agency:
    agency = active_agency(acting_user, policy=policy)
    _require_approver(acting_user)
    return agency


def _request_of(agency: Agency, request_id: int | None, *, lock: bool = False) -> PurchaseRequest:
    requests = PurchaseRequest.objects.filter(agency=agency, pk=request_id)
    request = (requests.select_for_update() if lock else requests).first()
    if request is None:
        raise NotFound("No such purchase request.", field="id")
    return request


def _require_pending(request: PurchaseRequest, verb: str) -> None:
    if request.status != PurchaseRequestStatus.PENDING:
        raise InvalidTransition(
            f"Only a PENDING request can be {verb}; this one is {request.status}.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )


def purchase_request_approve(*, acting_user: Any, request_id: int | None) -> PurchaseRequest:
    """An approver releases a request: it is checked out exactly as a checkout is (all or
    nothing, against the budgets, priced now), or refused and left PENDING. Approving an
    approved request again returns it unchanged."""
    agency = _deciding_agency(acting_user, policy="purchaseRequestApprove")
    request = _request_of(agency, request_id)
    if request.status == PurchaseRequestStatus.APPROVED:
        return request
    _require_pending(request, "approved")
    if request.requested_by_id == acting_user.pk and not agency.allow_self_approval:
        raise DomainError(
            "This agency does not let an approver approve their own request.",
            code=ProcurementErrorCode.SELF_APPROVAL,
            field="id",
        )
    lines = [CheckoutLine(*stored) for stored in request.lines]
    shipping = ShippingAddress(request.recipient, request.phone, request.address)
    wanted = check_request(lines, shipping, request.ship_within_days)
    basket = priced_basket(agency, lines, wanted, shipping, request.ship_within_days)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        # Two approvers at once: the second waits here, then finds it approved.
        request = _request_of(agency, request.pk, lock=True)
        if request.status == PurchaseRequestStatus.APPROVED:
            return request
        _require_pending(request, "approved")
        checkout = Checkout.objects.create(
            agency=agency,
            placed_by=request.requested_by,
            idempotency_key=f"{APPROVAL_KEY_PREFIX}{request.pk}",
            payload_hash=request.payload_hash,
            budget_line=request.budget_line,
        )
        request.status = PurchaseRequestStatus.APPROVED
        request.decided_by, request.decided_at = acting_user, timezone.now()
        request.checkout = checkout
        request.save(update_fields=["status", "decided_by", "decided_at", "checkout"])
        audit_record(
            actor=acting_user,
            action="purchase_request.approve",
            target=request,
            data={"requested": str(request.total), "placed": str(basket.total)},
        )
        place_basket(checkout, basket, actor=acting_user, commits_next=outermost)
    return request


@transaction.atomic
def purchase_request_decline(
    *, acting_user: Any, request_id: int | None, reason: str
) -> PurchaseRequest:
    """An approver declines a pending request, saying why. Nothing was reserved, so nothing
    is given back."""
    agency = _deciding_agency(acting_user, policy="purchaseRequestDecline")
    reason = validation.text(
        (reason or "").strip(),
        column=validation.column(PurchaseRequest, "decline_reason"),
        field="reason",
        code=ProcurementErrorCode.INVALID,
    )
    if not reason:
        raise DomainError("Give a reason.", code=ProcurementErrorCode.REQUIRED, field="reason")
    request = _request_of(agency, request_id, lock=True)
    _require_pending(request, "declined")
    request.status = PurchaseRequestStatus.DECLINED
    request.decided_by, request.decided_at = acting_user, timezone.now()
    request.decline_reason = reason
    request.save(update_fields=["status", "decided_by", "decided_at", "decline_reason"])
    audit_record(
        actor=acting_user, action="purchase_request.decline", target=request, reason=reason
    )
    return request


def orders_of(request: PurchaseRequest) -> list[Order]:
    """The orders an approved request placed (none before approval)."""
    if request.checkout_id is None:
        return []
    # `purchase_requests_visible_to` prefetches them for a page of requests.
    return sorted(request.checkout.orders.all(), key=lambda order: order.pk)
