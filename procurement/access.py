"""Who may see and act on which procurement rows: the one place for it.

- Row scopes: an agency's buyers see their agency's rows, supplier staff their supplier's,
  operators and auditors all (`orders`, `complaints`, `agencies`, `purchase_requests`,
  `basket_uploads`, `ledger_scope`).
- Locked getters for the services (`order_for`, `agency_for`): another organisation's row is
  answered like an unknown one.
- Mutation policies (`POLICIES`): the roles allowed to call each mutation, read by the
  mutations (`allowed_roles`) and by the services, so the rule is written once.
"""

from dataclasses import replace
from typing import Any

from django.db.models import QuerySet

from procurement.models import Agency, BasketUpload, Complaint, Order, PurchaseRequest
from shop.accounts.models import Role
from shop.core.errors import NotFound, PermissionDenied
from shop.core.permissions import require_authenticated, require_role

A, S, OP, AU = Role.AGENCY, Role.SUPPLIER, Role.OPERATOR, Role.AUDITOR

# Mutation -> the roles allowed to call it (tests/shop/core/test_mutation_policies.py).
POLICIES: dict[str, tuple[str, ...]] = {
    "agencyCreate": (OP,),
    "reservedSharePlanSet": (OP, A),
    "checkoutCreate": (A,),
    "orderConfirm": (S,),
    "orderReject": (S,),
    "orderShip": (S,),
    "orderAccept": (A,),
    "orderCancel": (A,),
    "orderInvoiceAttach": (S,),
    "orderComplete": (A, OP),
    "shipmentCreate": (S,),
    "shipmentMarkDelivered": (S,),
    "shipmentAccept": (A,),
    "paymentCreate": (A,),
    "paymentRecordTransfer": (OP,),
    "orderRefund": (OP, S),
    "complaintCreate": (A,),
    "complaintResolve": (OP,),
    "contributionImport": (OP,),
    "contributionAdjust": (OP,),
    "targetCreate": (OP,),
    "purchaseRequestCreate": (A,),
    "purchaseRequestApprove": (A,),
    "purchaseRequestDecline": (A,),
    "agencySettingsUpdate": (OP, A),
    "agencyMemberDutiesSet": (OP, A),
    "agencyBudgetSet": (OP, A),
    "basketUpload": (A,),
    "basketCheckout": (A,),
}

# Who reads the whole ledger's integrity (ledgerVerify, the tree export).
LEDGER_INSPECTORS = (OP, AU)
# Whoever may see some of the ledger may check that the tree they see is the one signed.
LOG_READERS = (OP, AU, A, S)


def own_rows(rows: QuerySet, acting_user: Any) -> QuerySet:
    """Rows carrying agency_id and supplier_id narrowed to the caller's own: an agency's, or
    its supplier's for supplier staff; other roles' access is checked by the caller."""
    if acting_user.role == A:
        return rows.filter(agency_id=acting_user.agency_id)
    if acting_user.role == S:
        return rows.filter(supplier_id=acting_user.supplier_id)
    return rows


def _scoped(rows: QuerySet, acting_user: Any) -> QuerySet:
    require_authenticated(acting_user)
    if acting_user.role not in (A, S, OP, AU):
        raise PermissionDenied()
    return own_rows(rows, acting_user)


def orders(acting_user: Any) -> QuerySet[Order]:
    """An agency sees its orders, supplier staff their supplier's, operators and auditors all."""
    return _scoped(Order.objects.all(), acting_user)


def complaints(acting_user: Any) -> QuerySet[Complaint]:
    """The same reach as orders."""
    return _scoped(Complaint.objects.select_related("order"), acting_user)


def agencies(acting_user: Any) -> QuerySet[Agency]:
    """Operators and auditors see every agency; an agency's buyers their own."""
    require_role(acting_user, OP, AU, A)
    rows = Agency.objects.select_related("city").order_by("id")
    return rows.filter(pk=acting_user.agency_id) if acting_user.role == A else rows


def purchase_requests(acting_user: Any) -> QuerySet[PurchaseRequest]:
    """An agency's members see its purchase requests; operators and auditors all."""
    require_role(acting_user, OP, AU, A)
    return own_rows(PurchaseRequest.objects.all(), acting_user)


# Whoever may upload a basket downloads its template and sees the uploads.
BASKET_USERS = POLICIES["basketUpload"]


def basket_uploads(acting_user: Any) -> QuerySet[BasketUpload]:
    """A spreadsheet basket is seen by its agency's buyers only (not operators or auditors:
    until checked out it is a draft, and its orders are what they see)."""
    require_role(acting_user, *BASKET_USERS)
    return BasketUpload.objects.filter(agency_id=acting_user.agency_id)


def order_for(acting_user: Any, order_id: int | None, *, roles: tuple[str, ...]) -> Order:
    """The order, locked, if the caller may act on it: an agency its own orders, supplier staff
    their supplier's, operators any. Someone else's order is answered like an unknown one."""
    require_role(acting_user, *roles)
    rows = Order.objects.select_for_update(of=("self",)).select_related("supplier", "agency")
    order = own_rows(rows, acting_user).filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.", field="id")
    return order


def agency_for(
    acting_user: Any, agency_id: int | None, *, roles: tuple[str, ...], lock: bool = False
) -> Agency:
    """The agency (locked if asked), if the caller may act for it: its own buyers, or an
    operator."""
    require_role(acting_user, *roles)
    rows = Agency.objects.select_for_update() if lock else Agency.objects.all()
    agency = rows.filter(pk=agency_id).first()
    if agency is None or (acting_user.role == A and acting_user.agency_id != agency.pk):
        raise NotFound("No such agency.", field="agencyId")
    return agency


def ledger_scope(acting_user: Any, filters: Any) -> Any:
    """A ledger filter narrowed to what the caller may read: auditors and operators
    everything, an agency only its own entries."""
    require_role(acting_user, OP, AU, A)
    if acting_user.role == A:
        return replace(filters, values={**filters.values, "AGENCY": [str(acting_user.agency_id)]})
    return filters
