from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from shop.accounts.models import Role
from shop.core.models import AuditEvent
from shop.core.permissions import require_role


def audit_event_list(
    *,
    acting_user: Any,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_email: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail, newest first; operators and auditors only."""
    require_role(acting_user, Role.OPERATOR, Role.AUDITOR)
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if actor_email:
        events = events.filter(actor_email=actor_email.strip().lower())
    if created_from:
        events = events.filter(created_at__gte=created_from)
    if created_to:
        events = events.filter(created_at__lt=created_to)
    return events.order_by("-created_at", "-id")
