import graphene
from graphene_django import DjangoObjectType

from shop.core import selectors
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.types import CountableConnection
from shop.core.models import AuditEvent


class AuditEventType(DjangoObjectType):
    data = graphene.JSONString(required=True)

    class Meta:
        model = AuditEvent
        name = "AuditEvent"
        description = "Who did what to which object, when and why."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "created_at",
            "actor_email",
            "actor_role",
            "action",
            "object_type",
            "object_id",
            "reason",
            "data",
            "request_id",
        )


class AuditEventConnection(CountableConnection):
    class Meta:
        node = AuditEventType


class AuditEventFilterInput(graphene.InputObjectType):
    action = graphene.String(description="e.g. `user.create`, `supplier.suspend`.")
    object_type = graphene.String(description="app_label.model, e.g. `accounts.user`.")
    object_id = graphene.String()
    actor_email = graphene.String()
    created_from = graphene.DateTime()
    created_to = graphene.DateTime(description="Exclusive.")


class CoreQueries(graphene.ObjectType):
    audit_events = PaginatedField(
        AuditEventConnection,
        filter=AuditEventFilterInput(),
        description="The audit trail, newest first (operator, auditor).",
    )

    def resolve_audit_events(root, info, filter=None):
        return selectors.audit_event_list(acting_user=info.context.user, **dict(filter or {}))
