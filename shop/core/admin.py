from django.contrib import admin

from shop.core.admin_access import ReadOnlyAdmin
from shop.core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail is written by services only."""

    list_display = ["created_at", "actor_email", "action", "object_type", "object_id", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_email", "object_id", "reason"]
