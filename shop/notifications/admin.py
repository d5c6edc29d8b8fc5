"""Operators browse endpoints, events and the delivery log; changes go through the API's
services (which audit them), so nothing is editable here. Secrets are not shown."""

from django.contrib import admin

from shop.core.admin_access import ReadOnlyAdmin
from shop.notifications.models import OutboundEvent, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "supplier", "agency", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    exclude = ["secret"]


@admin.register(OutboundEvent)
class OutboundEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event_type", "public_id"]
    list_filter = ["event_type"]
    search_fields = ["public_id"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "event",
        "status",
        "attempts",
        "response_code",
        "next_attempt_at",
    ]
    list_filter = ["status"]
    list_select_related = ["endpoint", "event"]
