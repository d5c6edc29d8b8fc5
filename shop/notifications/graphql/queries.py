import graphene

from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.ids import decode_id
from shop.core.permissions import require_authenticated
from shop.notifications import selectors, services
from shop.notifications.graphql.types import (
    NotificationPreferencesType,
    WebhookDeliveryConnection,
    WebhookDeliveryStatusEnum,
    WebhookEndpointConnection,
    WebhookEventTypeEnum,
    WebhookEventTypeInfo,
)


class WebhookDeliveryFilterInput(graphene.InputObjectType):
    endpoint_id = graphene.ID()
    status = WebhookDeliveryStatusEnum()
    event_type = WebhookEventTypeEnum()


class NotificationQueries(graphene.ObjectType):
    webhook_endpoints = PaginatedField(
        WebhookEndpointConnection,
        description="Your organisation's webhook endpoints (operators: all).",
    )
    webhook_deliveries = PaginatedField(
        WebhookDeliveryConnection,
        filter=WebhookDeliveryFilterInput(),
        description="The delivery log of your organisation's endpoints, newest first "
        "(operators: all).",
    )
    webhook_event_types = graphene.List(
        graphene.NonNull(WebhookEventTypeInfo),
        required=True,
        description="The event types there are to subscribe to.",
    )
    notification_preferences = graphene.Field(
        NotificationPreferencesType, required=True, description="Your e-mail choices."
    )

    def resolve_webhook_endpoints(root, info):
        return selectors.endpoint_list(acting_user=info.context.user)

    def resolve_webhook_deliveries(root, info, filter=None):
        filter = filter or {}
        endpoint_id = filter.get("endpoint_id")
        return selectors.delivery_list(
            acting_user=info.context.user,
            endpoint_id=None
            if endpoint_id is None
            else decode_id(endpoint_id, "WebhookEndpoint") or 0,
            status=getattr(filter.get("status"), "value", filter.get("status")),
            event_type=getattr(filter.get("event_type"), "value", filter.get("event_type")),
        )

    def resolve_webhook_event_types(root, info):
        require_authenticated(info.context.user)
        return WebhookEventTypeInfo.all()

    def resolve_notification_preferences(root, info):
        return {"email_event_types": services.email_event_types(info.context.user)}
