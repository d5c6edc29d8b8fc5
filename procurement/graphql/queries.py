import graphene

from procurement import selectors
from procurement.graphql.types import (
    AgencyConnection,
    AgencyNode,
    ComplaintConnection,
    OrderConnection,
    OrderStatusEnum,
    OrderType,
    OverduePaymentConnection,
    PaymentStatusEnum,
)
from procurement.models import Order
from shop.core import validation
from shop.core.errors import BadUserInput
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.ids import decode_id
from shop.payments import gateway


class OrderFilterInput(graphene.InputObjectType):
    status = graphene.List(graphene.NonNull(OrderStatusEnum))
    payment_status = graphene.List(graphene.NonNull(PaymentStatusEnum))
    placed_from = graphene.DateTime()
    placed_to = graphene.DateTime(description="Exclusive.")
    suppliers = graphene.List(graphene.NonNull(graphene.ID))
    agencies = graphene.List(graphene.NonNull(graphene.ID))
    late = graphene.Boolean(description="Only orders shipped (or still unshipped) late.")
    search = graphene.String(description="Order number or agency name contains.")


def _ids(global_ids, type_name: str) -> list[int]:
    ids = [decode_id(gid, type_name) for gid in global_ids or []]
    if any(i is None for i in ids):
        raise BadUserInput(f"Every ID in the filter must be a {type_name} ID.")
    return ids


def _values(items) -> list[str]:
    return [getattr(item, "value", item) for item in items or []]


class OverduePaymentFilterInput(graphene.InputObjectType):
    agencies = graphene.List(graphene.NonNull(graphene.ID))
    city_codes = graphene.List(
        graphene.NonNull(graphene.String), description="Buyer cities' division codes."
    )
    days_overdue_min = graphene.Int(description="At least this many days past the due date.")
    amount_min = graphene.Decimal(description="Outstanding at least this much (CNY).")
    amount_max = graphene.Decimal(description="Outstanding at most this much (CNY).")


def _amount(value, field: str):
    if value is None:
        return None
    return validation.money(
        value, column=validation.column(Order, "accepted_value"), field=field, sign="nonnegative"
    )


class PaymentConfigType(graphene.ObjectType):
    """For a storefront confirming a card payment in the browser with `Payment.clientSecret`
    (docs/payments.md, "Confirming in the browser"). Public: no secret is in it."""

    class Meta:
        name = "PaymentConfig"

    publishable_key = graphene.String(
        required=True,
        description="The gateway's publishable key (`pk_…`); empty when card payments are off.",
    )
    api_base = graphene.String(
        required=True,
        description="Where the browser sends the confirmation: https://api.stripe.com, or the "
        "bundled mock's address.",
    )
    currency = graphene.String(required=True)


class ProcurementQueries(graphene.ObjectType):
    payment_config = graphene.Field(PaymentConfigType, required=True)
    agencies = PaginatedField(AgencyConnection, description="Operators and auditors: all.")
    agency = graphene.Field(AgencyNode, id=graphene.ID(required=True))
    orders = PaginatedField(
        OrderConnection,
        filter=OrderFilterInput(),
        description="An agency sees its own orders, a supplier its own, operators and "
        "auditors all.",
    )
    order = graphene.Field(OrderType, id=graphene.ID(required=True))
    complaints = PaginatedField(ComplaintConnection)
    overdue_payments = PaginatedField(
        OverduePaymentConnection,
        filter=OverduePaymentFilterInput(),
        description="Accepted orders unpaid after their due date, oldest due first "
        "(operators and auditors).",
    )

    def resolve_payment_config(root, info):
        return gateway.payment_config()

    def resolve_agencies(root, info):
        return selectors.agencies_visible_to(acting_user=info.context.user)

    def resolve_agency(root, info, id):
        agencies = selectors.agencies_visible_to(acting_user=info.context.user)
        return agencies.filter(pk=decode_id(id, "Agency")).first()

    def resolve_orders(root, info, filter=None):
        filter = filter or {}
        return selectors.orders_visible_to(
            acting_user=info.context.user,
            filters=selectors.OrderFilter(
                statuses=_values(filter.get("status")),
                payment_statuses=_values(filter.get("payment_status")),
                placed_from=filter.get("placed_from"),
                placed_to=filter.get("placed_to"),
                supplier_ids=_ids(filter.get("suppliers"), "Supplier"),
                agency_ids=_ids(filter.get("agencies"), "Agency"),
                late=filter.get("late"),
                search=filter.get("search"),
            ),
        )

    def resolve_order(root, info, id):
        orders = selectors.orders_visible_to(acting_user=info.context.user)
        return orders.filter(pk=decode_id(id, "Order")).first()

    def resolve_complaints(root, info):
        return selectors.complaints_visible_to(acting_user=info.context.user)

    def resolve_overdue_payments(root, info, filter=None):
        filter = filter or {}
        return selectors.overdue_payments(
            acting_user=info.context.user,
            filters=selectors.OverdueFilter(
                agency_ids=_ids(filter.get("agencies"), "Agency"),
                city_codes=list(filter.get("city_codes") or []),
                days_overdue_min=filter.get("days_overdue_min"),
                amount_min=_amount(filter.get("amount_min"), "amountMin"),
                amount_max=_amount(filter.get("amount_max"), "amountMax"),
            ),
        )
