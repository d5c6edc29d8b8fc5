"""Reads: the endpoints and delivery log a caller may see (operators all, others their own)."""

from typing import Any

from django.db.models import QuerySet

from shop.notifications.models import WebhookDelivery, WebhookEndpoint
from shop.notifications.services import managed_endpoints


def endpoint_list(*, acting_user: Any) -> QuerySet[WebhookEndpoint]:
    return managed_endpoints(acting_user).select_related("supplier", "agency").order_by("id")


def delivery_list(
    *,
    acting_user: Any,
    endpoint_id: int | None = None,
    status: str | None = None,
    event_type: str | None = None,
) -> QuerySet[WebhookDelivery]:
    """The delivery log, newest first."""
    deliveries = WebhookDelivery.objects.filter(endpoint__in=managed_endpoints(acting_user))
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__event_type=event_type)
    return deliveries.select_related("event", "endpoint__supplier", "endpoint__agency").order_by(
        "-created_at", "-id"
    )
