"""Notification mutations: each parses its input, calls one service and returns the payload."""

import graphene

from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation
from shop.notifications import services
from shop.notifications.access import POLICIES
from shop.notifications.graphql.types import (
    NotificationError,
    NotificationPreferencesType,
    WebhookDeliveryType,
    WebhookEndpointType,
    WebhookEventTypeEnum,
    enum_values,
)


def _id(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    return decode_id(global_id, type_name) or 0  # 0 matches no row: NOT_FOUND


class WebhookEndpointCreateInput(graphene.InputObjectType):
    url = graphene.String(required=True, description="https, at a public address.")
    event_types = graphene.List(graphene.NonNull(WebhookEventTypeEnum), required=True)
    description = graphene.String()
    is_active = graphene.Boolean(description="Default true.")
    supplier_id = graphene.ID(description="Operators: the supplier it belongs to.")
    agency_id = graphene.ID(
        description="Operators: the agency it belongs to. Neither: a platform endpoint."
    )


class WebhookEndpointUpdateInput(graphene.InputObjectType):
    url = graphene.String()
    event_types = graphene.List(graphene.NonNull(WebhookEventTypeEnum))
    description = graphene.String()
    is_active = graphene.Boolean(
        description="An inactive endpoint is sent nothing; its deliveries wait for it."
    )
    rotate_secret = graphene.Boolean(description="Issue a new secret; the old one stops.")


class WebhookEndpointCreate(BaseMutation):
    """Register a webhook endpoint for your organisation. The secret is shown only here (and
    when rotated)."""

    allowed_roles = POLICIES["webhookEndpointCreate"]

    class Arguments:
        input = WebhookEndpointCreateInput(required=True)

    endpoint = graphene.Field(WebhookEndpointType)
    secret = graphene.String(description="Sign-verification secret; keep it safe.")
    errors = errors_field(NotificationError)

    @classmethod
    def perform(cls, info, input):
        endpoint = services.webhook_endpoint_create(
            acting_user=info.context.user,
            url=input.url,
            event_types=enum_values(input.event_types),
            description=input.get("description") or "",
            is_active=input.get("is_active") is not False,
            supplier_id=_id(input.get("supplier_id"), "Supplier"),
            agency_id=_id(input.get("agency_id"), "Agency"),
        )
        return cls(endpoint=endpoint, secret=endpoint.secret)


class WebhookEndpointUpdate(BaseMutation):
    """Change an endpoint of your organisation."""

    allowed_roles = POLICIES["webhookEndpointUpdate"]

    class Arguments:
        id = graphene.ID(required=True)
        input = WebhookEndpointUpdateInput(required=True)

    endpoint = graphene.Field(WebhookEndpointType)
    secret = graphene.String(description="The new secret, when `rotateSecret` was asked.")
    errors = errors_field(NotificationError)

    @classmethod
    def perform(cls, info, id, input):
        event_types = input.get("event_types")
        endpoint = services.webhook_endpoint_update(
            acting_user=info.context.user,
            endpoint_id=_id(id, "WebhookEndpoint"),
            url=input.get("url"),
            event_types=None if event_types is None else enum_values(event_types),
            description=input.get("description"),
            is_active=input.get("is_active"),
            rotate_secret=bool(input.get("rotate_secret")),
        )
        return cls(
            endpoint=endpoint, secret=endpoint.secret if input.get("rotate_secret") else None
        )


class WebhookEndpointDelete(BaseMutation):
    """Remove an endpoint of your organisation and its delivery log."""

    allowed_roles = POLICIES["webhookEndpointDelete"]

    class Arguments:
        id = graphene.ID(required=True)

    deleted_id = graphene.ID()
    errors = errors_field(NotificationError)

    @classmethod
    def perform(cls, info, id):
        services.webhook_endpoint_delete(
            acting_user=info.context.user, endpoint_id=_id(id, "WebhookEndpoint")
        )
        return cls(deleted_id=id)


class WebhookTest(BaseMutation):
    """Send a `webhook.test` event to an endpoint; follow it in `webhookDeliveries`."""

    allowed_roles = POLICIES["webhookTest"]

    class Arguments:
        id = graphene.ID(required=True)

    delivery = graphene.Field(WebhookDeliveryType)
    errors = errors_field(NotificationError)

    @classmethod
    def perform(cls, info, id):
        delivery = services.webhook_test(
            acting_user=info.context.user, endpoint_id=_id(id, "WebhookEndpoint")
        )
        return cls(delivery=delivery)


class NotificationPreferencesUpdate(BaseMutation):
    """Choose what you are e-mailed about (an empty list: nothing)."""

    allowed_roles = POLICIES["notificationPreferencesUpdate"]

    class Arguments:
        email_event_types = graphene.List(graphene.NonNull(WebhookEventTypeEnum), required=True)

    preferences = graphene.Field(NotificationPreferencesType)
    errors = errors_field(NotificationError)

    @classmethod
    def perform(cls, info, email_event_types):
        chosen = services.email_preferences_update(
            acting_user=info.context.user, event_types=enum_values(email_event_types)
        )
        return cls(preferences={"email_event_types": chosen})


class NotificationMutations(graphene.ObjectType):
    webhook_endpoint_create = WebhookEndpointCreate.Field()
    webhook_endpoint_update = WebhookEndpointUpdate.Field()
    webhook_endpoint_delete = WebhookEndpointDelete.Field()
    webhook_test = WebhookTest.Field()
    notification_preferences_update = NotificationPreferencesUpdate.Field()
