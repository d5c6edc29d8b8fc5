"""The audit trail: every state-changing service calls `audit_record` inside its transaction."""

from collections.abc import Callable
from typing import Any

from django.db import models

from shop.core.bulk import insert_rows
from shop.core.middleware import current_request_id
from shop.core.models import AuditEvent


def object_type_of(target: models.Model) -> str:
    return target._meta.label_lower


def _event(actor: Any, action: str, target: models.Model, reason: str, data: dict) -> AuditEvent:
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent(
        actor=actor if is_user else None,
        actor_email=actor.email if is_user else "",
        actor_role=getattr(actor, "role", "") if is_user else "",
        action=action,
        object_type=object_type_of(target),
        object_id=str(target.pk),
        reason=reason,
        data=data,
        request_id=current_request_id(),
    )


def audit_record_many(
    *,
    actor: Any,
    action: str,
    targets: list[models.Model],
    data_of: Callable[[models.Model], dict[str, Any]] = lambda target: {},
) -> list[AuditEvent]:
    """The same action on several objects, in one INSERT."""
    return insert_rows([_event(actor, action, target, "", data_of(target)) for target in targets])


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that `actor` (a user, or None for the system) did `action` to `target`."""
    event = _event(actor, action, target, reason, data or {})
    event.save()
    return event
