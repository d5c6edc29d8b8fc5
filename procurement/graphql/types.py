import graphene
from django.utils import timezone
from graphene_django import DjangoObjectType

from catalog.graphql.types import CityType, SupplierType
from catalog.models import Supplier
from procurement import models, selectors
from procurement.errors import ProcurementErrorCode
from shop.core.graphql.dataloaders import DataLoader, batches
from shop.core.graphql.errors import error_type
from shop.core.graphql.types import CountableConnection, Money

ProcurementError = error_type(
    "ProcurementError", ProcurementErrorCode, "An error from a procurement mutation."
)
AgencyTypeEnum = graphene.Enum.from_enum(models.AgencyType, name="AgencyType")
OrderStatusEnum = graphene.Enum.from_enum(models.OrderStatus, name="OrderStatus")
PaymentStatusEnum = graphene.Enum.from_enum(models.PaymentStatus, name="PaymentStatus")
PaymentMethodEnum = graphene.Enum.from_enum(models.PaymentMethod, name="PaymentMethod")
PaymentStateEnum = graphene.Enum.from_enum(models.PaymentState, name="PaymentState")
ComplaintKindEnum = graphene.Enum.from_enum(models.ComplaintKind, name="ComplaintKind")
ComplaintStatusEnum = graphene.Enum.from_enum(models.ComplaintStatus, name="ComplaintStatus")


@batches("Order", key=lambda order: order.id)
class LinesByOrderId(DataLoader[int, list[models.OrderLine]]):
    def batch_load(self, keys):
        grouped: dict[int, list] = {}
        for line in models.OrderLine.objects.filter(order_id__in=keys).order_by("id"):
            grouped.setdefault(line.order_id, []).append(line)
        return grouped

    def default(self):
        return []


@batches("Order", key=lambda order: order.supplier_id)
class OrderSupplierById(DataLoader[int, Supplier]):
    returns = "Supplier"

    def batch_load(self, keys):
        return Supplier.objects.in_bulk(keys)


@batches("Order", key=lambda order: order.id)
class ShipmentsByOrderId(DataLoader[int, list[models.Shipment]]):
    def batch_load(self, keys):
        grouped: dict[int, list] = {}
        shipments = (
            models.Shipment.objects.filter(order_id__in=keys)
            .select_related("order")
            .prefetch_related("lines__order_line")
            .order_by("number")
        )
        for shipment in shipments:
            grouped.setdefault(shipment.order_id, []).append(shipment)
        return grouped

    def default(self):
        return []


class ReservedShareType(graphene.ObjectType):
    year = graphene.Int(required=True)
    filed = graphene.Boolean(required=True, description="Whether a plan was filed for the year.")
    no_canteen = graphene.Boolean(required=True)
    reserved = graphene.Field(Money, required=True, description="Canteen food total × ratio.")
    achieved = graphene.Field(Money, required=True, description="Counted purchases that year.")
    percent = graphene.Decimal(description="achieved ÷ reserved × 100; null when nothing reserved.")

    class Meta:
        name = "ReservedShare"

    def resolve_reserved(self, info):
        return Money.of(self.reserved)

    def resolve_achieved(self, info):
        return Money.of(self.achieved)


# The object type of an Agency. Not "AgencyType": in the schema that name is the enum of an
# agency's kind (models.AgencyType, exposed as AgencyTypeEnum).
class AgencyNode(DjangoObjectType):
    type = graphene.Field(AgencyTypeEnum, required=True)
    city = graphene.Field(CityType, required=True)
    is_reseller = graphene.Boolean(
        required=True, description="Resellers' purchases count as 帮销 (helped sales)."
    )
    reserved_share = graphene.Field(
        ReservedShareType, year=graphene.Int(), description="预留份额; defaults to this year."
    )
    approval_threshold = graphene.Field(
        Money, description="Checkouts above this total need an approver; null: none does."
    )
    allow_self_approval = graphene.Boolean(
        required=True, description="Whether an approver may approve their own request."
    )

    class Meta:
        model = models.Agency
        name = "Agency"
        description = "A Fujian buyer (采购单位)."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "name",
            "credit_code",
            "type",
            "district",
            "contact_name",
            "contact_phone",
            "is_active",
            "created_at",
        )
        convert_choices_to_enum = False

    def resolve_reserved_share(self, info, year=None):
        return selectors.reserved_share(self, year or timezone.localdate().year)

    def resolve_approval_threshold(self, info):
        return Money.of(self.approval_threshold)


class AgencyConnection(CountableConnection):
    class Meta:
        node = AgencyNode


class OrderLineType(DjangoObjectType):
    unit_price = graphene.Field(Money, required=True)
    line_total = graphene.Field(Money, required=True)
    origin_county = graphene.String(required=True, description="Snapshot of the origin county.")
    category = graphene.String(required=True)
    shipped_quantity = graphene.Int(
        required=True, description="Units shipped so far, over all the order's shipments."
    )

    class Meta:
        model = models.OrderLine
        name = "OrderLine"
        description = "A line as the buyer saw it at checkout (snapshot)."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "sku",
            "product_name",
            "spec",
            "unit",
            "quantity",
            "accepted_quantity",
            "supplier_name",
        )

    def resolve_unit_price(self, info):
        return Money.of(self.unit_price)

    def resolve_line_total(self, info):
        return Money.of(self.line_total)

    def resolve_origin_county(self, info):
        return self.origin_county_name

    def resolve_category(self, info):
        return self.category_name

    def resolve_shipped_quantity(self, info):
        shipments = ShipmentsByOrderId(info.context).load(self.order_id)
        return sum(
            line.quantity
            for shipment in shipments
            for line in shipment.lines.all()
            if line.order_line_id == self.pk
        )


class ShipmentLineType(DjangoObjectType):
    order_line = graphene.Field(OrderLineType, required=True)

    class Meta:
        model = models.ShipmentLine
        name = "ShipmentLine"
        description = "The units of one order line in one shipment."
        fields = ("quantity", "accepted_quantity")


class ShipmentType(DjangoObjectType):
    lines = graphene.List(graphene.NonNull(ShipmentLineType), required=True)
    is_late = graphene.Boolean(
        required=True,
        description="Shipped after the order's latest ship date (the order's own rule).",
    )

    class Meta:
        model = models.Shipment
        name = "Shipment"
        description = "One parcel of an order."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "number",
            "carrier",
            "tracking_number",
            "shipped_at",
            "delivered_at",
            "accepted_at",
        )

    def resolve_lines(self, info):
        return self.lines.all()

    def resolve_is_late(self, info):
        return selectors.shipped_late(self.shipped_at, self.order.latest_ship_date)


class OrderEventType(DjangoObjectType):
    class Meta:
        model = models.OrderEvent
        name = "OrderEvent"
        fields = ("kind", "from_status", "to_status", "note", "created_at")


class InvoiceType(graphene.ObjectType):
    number = graphene.String(required=True)
    seller_credit_code = graphene.String(required=True)
    amount = graphene.Field(Money, required=True)

    class Meta:
        name = "Invoice"


class OrderType(DjangoObjectType):
    status = graphene.Field(OrderStatusEnum, required=True)
    payment_status = graphene.Field(PaymentStatusEnum, required=True)
    agency_type = graphene.Field(AgencyTypeEnum, required=True)
    supplier = graphene.Field(SupplierType, required=True)
    lines = graphene.List(graphene.NonNull(OrderLineType), required=True)
    events = graphene.List(graphene.NonNull(OrderEventType), required=True)
    shipments = graphene.List(
        graphene.NonNull(ShipmentType), required=True, description="Its parcels, in order."
    )
    subtotal = graphene.Field(Money, required=True)
    accepted_value = graphene.Field(Money)
    paid_amount = graphene.Field(Money, required=True)
    refunded_amount = graphene.Field(Money, required=True)
    invoice = graphene.Field(InvoiceType)
    is_late = graphene.Boolean(required=True, description="Not shipped by the latest ship date.")

    class Meta:
        model = models.Order
        name = "Order"
        description = "One supplier's part of an agency's checkout."
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "number",
            "status",
            "payment_status",
            "agency_name",
            "agency_city",
            "recipient",
            "phone",
            "address",
            "ship_within_days",
            "latest_ship_date",
            "tracking_number",
            "cancel_reason",
            "placed_at",
            "confirmed_at",
            "shipped_at",
            "accepted_at",
            "paid_at",
            "completed_at",
            "cancelled_at",
            "payment_due_date",
            "paid_on_time",
        )
        convert_choices_to_enum = False

    def resolve_supplier(self, info):
        return OrderSupplierById(info.context).load(self.supplier_id)

    def resolve_lines(self, info):
        return LinesByOrderId(info.context).load(self.pk)

    def resolve_events(self, info):
        return self.events.all()

    def resolve_shipments(self, info):
        return ShipmentsByOrderId(info.context).load(self.pk)

    def resolve_subtotal(self, info):
        return Money.of(self.subtotal)

    def resolve_accepted_value(self, info):
        return Money.of(self.accepted_value)

    def resolve_paid_amount(self, info):
        return Money.of(self.paid_amount)

    def resolve_refunded_amount(self, info):
        return Money.of(self.refunded_amount)

    def resolve_invoice(self, info):
        if not self.invoice_number:
            return None
        return InvoiceType(
            number=self.invoice_number,
            seller_credit_code=self.invoice_seller_credit_code,
            amount=Money.of(self.invoice_amount),
        )

    def resolve_is_late(self, info):
        return selectors.is_late(self)


class OrderConnection(CountableConnection):
    class Meta:
        node = OrderType


class OverduePaymentType(graphene.ObjectType):
    """An accepted order not paid by its due date (its root is the order)."""

    class Meta:
        name = "OverduePayment"

    order = graphene.Field(OrderType, required=True)
    agency = graphene.Field(AgencyNode, required=True)
    city = graphene.Field(CityType, required=True, description="The buying agency's city.")
    amount_outstanding = graphene.Field(Money, required=True)
    due_date = graphene.Date(required=True, description="Asia/Shanghai business date.")
    days_overdue = graphene.Int(required=True, description="Days since the due date, today.")

    def resolve_order(self, info):
        return self

    def resolve_agency(self, info):
        return self.agency

    def resolve_city(self, info):
        return self.agency.city

    def resolve_amount_outstanding(self, info):
        return Money.of(self.accepted_value - self.paid_amount)

    def resolve_due_date(self, info):
        return self.payment_due_date

    def resolve_days_overdue(self, info):
        from procurement.services.payment_terms import days_overdue

        return days_overdue(self.payment_due_date)


class OverduePaymentConnection(CountableConnection):
    class Meta:
        node = OverduePaymentType


class PaymentType(DjangoObjectType):
    method = graphene.Field(PaymentMethodEnum, required=True)
    status = graphene.Field(PaymentStateEnum, required=True)
    amount = graphene.Field(Money, required=True)
    client_secret = graphene.String(description="For confirming a card payment client-side.")

    class Meta:
        model = models.Payment
        name = "Payment"
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "method",
            "gateway_intent_id",
            "transfer_reference",
            "failure_message",
            "created_at",
            "succeeded_at",
        )
        convert_choices_to_enum = False

    def resolve_status(self, info):
        return self.state

    def resolve_amount(self, info):
        return Money.of(self.amount)

    def resolve_client_secret(self, info):
        return self.client_secret or None


class RefundType(DjangoObjectType):
    amount = graphene.Field(Money, required=True)

    class Meta:
        model = models.Refund
        name = "Refund"
        fields = ("id", "reason", "gateway_refund_id", "created_at")

    def resolve_amount(self, info):
        return Money.of(self.amount)


class ComplaintType(DjangoObjectType):
    kind = graphene.Field(ComplaintKindEnum, required=True)
    status = graphene.Field(ComplaintStatusEnum, required=True)
    order = graphene.Field(OrderType, required=True)

    class Meta:
        model = models.Complaint
        name = "Complaint"
        interfaces = (graphene.relay.Node,)
        fields = (
            "id",
            "kind",
            "description",
            "status",
            "resolution_note",
            "created_at",
            "resolved_at",
        )
        convert_choices_to_enum = False


class ComplaintConnection(CountableConnection):
    class Meta:
        node = ComplaintType
