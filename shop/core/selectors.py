from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from shop.accounts.models import Role
from shop.core.models import AuditEvent
from shop.core.permissions import require_role


def filtered_by_given(queryset: QuerySet, **lookups: Any) -> QuerySet:
    """`queryset` filtered by the lookups whose value was given: None, an empty string and an
    empty list are a filter's field left out (no condition); 0, False and dates do filter."""
    given = {
        lookup: value
        for lookup, value in lookups.items()
        if value is not None and not (isinstance(value, str | list | tuple | set) and not value)
    }
    return queryset.filter(**given) if given else queryset


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
    events = filtered_by_given(
        AuditEvent.objects.all(),
        action=action,
        object_type=object_type,
        object_id=object_id,
        created_at__gte=created_from,
        created_at__lt=created_to,
    )
    if actor_email:
        events = events.filter(actor_email=actor_email.strip().lower())
    return events.order_by("-created_at", "-id")
