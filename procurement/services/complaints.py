"""Complaints by buying agencies; upheld quality complaints feed the supplier exit rule."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from procurement.access import POLICIES, order_for
from procurement.errors import ProcurementErrorCode
from procurement.models import Complaint, ComplaintKind, ComplaintStatus
from procurement.models.orders import COMPLAINABLE
from procurement.services.orders import record_order_event
from shop.core.audit import audit_record
from shop.core.errors import DomainError, InvalidTransition, NotFound
from shop.core.permissions import require_role


@transaction.atomic
def complaint_create(
    *, acting_user: Any, order_id: int | None, kind: str, description: str
) -> Complaint:
    order = order_for(acting_user, order_id, roles=POLICIES["complaintCreate"])
    if order.status not in COMPLAINABLE:
        raise InvalidTransition(
            "Complaints concern goods that were shipped.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="orderId",
        )
    if kind not in ComplaintKind.values:
        raise DomainError(
            "Unknown complaint kind.", code=ProcurementErrorCode.INVALID, field="kind"
        )
    description = (description or "").strip()
    if not description:
        raise DomainError(
            "Describe the problem.", code=ProcurementErrorCode.REQUIRED, field="description"
        )
    complaint = Complaint.objects.create(
        order=order,
        agency=order.agency,
        supplier=order.supplier,
        kind=kind,
        description=description,
        created_by=acting_user,
    )
    record_order_event(order, kind="complaint", actor=acting_user, note=kind)
    audit_record(
        actor=acting_user, action="complaint.create", target=complaint, data={"kind": kind}
    )
    return complaint


@transaction.atomic
def complaint_resolve(
    *, acting_user: Any, complaint_id: int | None, upheld: bool, note: str
) -> Complaint:
    """An operator decides a complaint. Upheld quality complaints count toward exit."""
    require_role(acting_user, *POLICIES["complaintResolve"])
    complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound("No such complaint.")
    if complaint.status != ComplaintStatus.OPEN:
        raise InvalidTransition(
            "The complaint is already resolved.",
            code=ProcurementErrorCode.INVALID_TRANSITION,
            field="id",
        )
    note = (note or "").strip()
    if not note:
        raise DomainError("Explain the decision.", code=ProcurementErrorCode.REQUIRED, field="note")
    complaint.status = ComplaintStatus.UPHELD if upheld else ComplaintStatus.DISMISSED
    complaint.resolution_note, complaint.resolved_by, complaint.resolved_at = (
        note,
        acting_user,
        timezone.now(),
    )
    complaint.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at"])
    audit_record(
        actor=acting_user,
        action="complaint.resolve",
        target=complaint,
        reason=note,
        data={"upheld": upheld},
    )
    return complaint


def upheld_quality_complaints_since(since: datetime) -> dict[int, int]:
    """Upheld quality complaints per supplier, resolved since `since` (for the exit rule)."""
    rows = (
        Complaint.objects.filter(
            status=ComplaintStatus.UPHELD, kind=ComplaintKind.QUALITY, resolved_at__gte=since
        )
        .values("supplier_id")
        .annotate(count=Count("id"))
    )
    return {row["supplier_id"]: row["count"] for row in rows}
