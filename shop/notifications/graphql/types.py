import graphene
from graphene_django import DjangoObjectType

from shop.core.graphql.errors import error_type
from shop.core.graphql.types import CountableConnection
from shop.notifications.errors import NotificationErrorCode
from shop.notifications.events import DESCRIPTIONS, SUBSCRIBABLE, EventType
from shop.notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

NotificationError = error_type(
    "NotificationError", NotificationErrorCode, "An error from a notification mutation."
)

WebhookEventTypeEnum = graphene.Enum(
    "WebhookEventType",
    [(t.name, t.value) for t in EventType],
    description="What happened; on the wire (the payload's `type`) as e.g. `order.placed`.",
)
WebhookDeliveryStatusEnum = graphene.Enum.from_enum(
    DeliveryStatus, name="WebhookDeliveryStatus", description=lambda v: v and v.label
)


def enum_values(values) -> list[str]:
    """Wire names from GraphQL enum members (or plain strings)."""
    return [getattr(v, "value", v) for v in values or []]


class WebhookEventTypeInfo(graphene.ObjectType):
    """An event type an endpoint or an e-mail preference can subscribe to."""

    type = graphene.Field(WebhookEventTypeEnum, required=True)
    name = graphene.String(required=True, description="As sent: the payload's `type`.")
    description = graphene.String(required=True)

    @staticmethod
    def all() -> list[dict]:
        return [
            {"type": t.value, "name": t.value, "description": DESCRIPTIONS[t]} for t in SUBSCRIBABLE
        ]


class WebhookEndpointType(DjangoObjectType):
    event_types = graphene.List(graphene.NonNull(WebhookEventTypeEnum), required=True)
    secret_hint = graphene.String(
        required=True, description="The secret's last four characters, to tell secrets apart."
    )
    supplier = graphene.Field(
        "catalog.graphql.types.SupplierType", description="The supplier it belongs to."
    )
    agency = graphene.Field(
        "procurement.graphql.types.AgencyNode", description="The agency it belongs to."
    )
    is_platform = graphene.Boolean(
        required=True, description="A platform endpoint (operators): hears every event."
    )

    class Meta:
        model = WebhookEndpoint
        name = "WebhookEndpoint"
        description = "A URL an organisation has events POSTed to, signed with its secret."
        interfaces = (graphene.relay.Node,)
        fields = ("id", "url", "description", "is_active", "created_at", "updated_at")

    def resolve_event_types(self, info):
        return self.event_types

    def resolve_secret_hint(self, info):
        return "…" + self.secret[-4:]

    def resolve_supplier(self, info):
        return self.supplier

    def resolve_agency(self, info):
        return self.agency

    def resolve_is_platform(self, info):
        return self.supplier_id is None and self.agency_id is None


class WebhookEndpointConnection(CountableConnection):
    class Meta:
        node = WebhookEndpointType


class WebhookDeliveryType(DjangoObjectType):
    status = graphene.Field(WebhookDeliveryStatusEnum, required=True)
    event_id = graphene.String(
        required=True,
        description="The payload's `id` (and X-Shanhai-Event-Id): de-duplicate by it.",
    )
    event_type = graphene.Field(WebhookEventTypeEnum, required=True)
    payload = graphene.String(required=True, description="The exact JSON body sent.")
    endpoint = graphene.Field(WebhookEndpointType, required=True)

    class Meta:
        model = WebhookDelivery
        name = "WebhookDelivery"
        description = "One event sent (or to be sent) to one endpoint, with its attempts."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "delivered_at",
            "response_code",
            "error",
            "created_at",
        )
        convert_choices_to_enum = False

    def resolve_status(self, info):
        return self.status

    def resolve_event_id(self, info):
        return f"evt_{self.event.public_id.hex}"

    def resolve_event_type(self, info):
        return self.event.event_type

    def resolve_payload(self, info):
        return self.event.payload

    def resolve_endpoint(self, info):
        return self.endpoint


class WebhookDeliveryConnection(CountableConnection):
    class Meta:
        node = WebhookDeliveryType


class NotificationPreferencesType(graphene.ObjectType):
    class Meta:
        name = "NotificationPreferences"
        description = "What the signed-in user is e-mailed about (in-app notifications are kept "
        "for every event of their organisation)."

    email_event_types = graphene.List(graphene.NonNull(WebhookEventTypeEnum), required=True)
