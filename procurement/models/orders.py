"""Procurement: checkout, orders, their lines, events and shipments."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from procurement.errors import ProcurementErrorCode
from procurement.models.agencies import Agency, AgencyType
from shop.core.lifecycle import Lifecycle
from shop.core.models import TransitionRecord


class Checkout(models.Model):
    """One checkout request; its idempotency key makes a retry return the same orders."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="checkouts")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    idempotency_key = models.CharField(max_length=128)
    payload_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # The budget line its orders are charged to ("" when none; docs/approvals.md).
    budget_line = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"], name="one_checkout_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agency_id}/{self.idempotency_key}"


class OrderStatus(models.TextChoices):
    PLACED = "PLACED", "已下单"
    CONFIRMED = "CONFIRMED", "已确认"
    SHIPPED = "SHIPPED", "已发货"
    ACCEPTED = "ACCEPTED", "已验收"
    COMPLETED = "COMPLETED", "已完成"
    CANCELLED = "CANCELLED", "已取消"


# The moves procurement/services make: PLACED → CONFIRMED → SHIPPED → ACCEPTED → COMPLETED,
# PLACED → CANCELLED. Each move stamps its time field and writes an OrderEvent.
ORDER_LIFECYCLE = Lifecycle(
    subject="order",
    statuses=OrderStatus,
    transitions={
        OrderStatus.PLACED: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
        OrderStatus.CONFIRMED: frozenset({OrderStatus.SHIPPED}),
        OrderStatus.SHIPPED: frozenset({OrderStatus.ACCEPTED}),
        OrderStatus.ACCEPTED: frozenset({OrderStatus.COMPLETED}),
        OrderStatus.COMPLETED: frozenset(),
        OrderStatus.CANCELLED: frozenset(),
    },
    stamps={
        OrderStatus.CONFIRMED: "confirmed_at",
        OrderStatus.SHIPPED: "shipped_at",
        OrderStatus.ACCEPTED: "accepted_at",
        OrderStatus.COMPLETED: "completed_at",
        OrderStatus.CANCELLED: "cancelled_at",
    },
    history="procurement.OrderEvent",
    invalid_transition=ProcurementErrorCode.INVALID_TRANSITION,
)


# Named groups of order states. Every rule asking "may this order be paid / is it counted /
# may it be complained about" reads one of these, so a new state is placed in each group here.
WAITING_TO_SHIP = frozenset({OrderStatus.PLACED, OrderStatus.CONFIRMED})
COMPLAINABLE = frozenset({OrderStatus.SHIPPED, OrderStatus.ACCEPTED, OrderStatus.COMPLETED})
# Institutions pay the accepted value after acceptance.
PAYABLE = frozenset({OrderStatus.ACCEPTED, OrderStatus.COMPLETED})
# An invoice is attached to what was accepted.
INVOICEABLE = frozenset({OrderStatus.ACCEPTED, OrderStatus.COMPLETED})
# The ledger counts an accepted order once it is paid (procurement/ledger.py).
COUNTED = frozenset({OrderStatus.ACCEPTED, OrderStatus.COMPLETED})
# Orders whose value no longer holds the agency's budget (procurement/services/budgets.py).
UNCOMMITTED = frozenset({OrderStatus.CANCELLED})


class PaymentStatus(models.TextChoices):
    UNPAID = "UNPAID", "未支付"
    PAID = "PAID", "已支付"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED", "部分退款"
    REFUNDED = "REFUNDED", "已退款"


SHIP_WITHIN_DAYS = (7, 15, 30)


class Order(models.Model):
    """One supplier's part of a checkout."""

    number = models.CharField(max_length=32, unique=True)
    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="orders")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="orders")
    supplier = models.ForeignKey(
        "catalog.Supplier", on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLACED
    )
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    # Snapshots: later edits to the agency never change what this order says.
    agency_name = models.CharField(max_length=128)
    agency_type = models.CharField(max_length=24, choices=AgencyType.choices)
    agency_city = models.CharField(max_length=32)
    recipient = models.CharField(max_length=64)
    phone = models.CharField(max_length=32)
    address = models.CharField(max_length=255)
    ship_within_days = models.PositiveSmallIntegerField(default=7)
    latest_ship_date = models.DateField()
    tracking_number = models.CharField(max_length=64, blank=True)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    accepted_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    invoice_number = models.CharField(max_length=32, blank=True)
    invoice_seller_credit_code = models.CharField(max_length=18, blank=True)
    invoice_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    placed_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Payment terms (docs/decisions.md, "Payment within 30 days"): set at acceptance, in
    # Asia/Shanghai business dates; whether the payment met it is fixed when it is paid.
    payment_due_date = models.DateField(null=True, blank=True)
    paid_on_time = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["payment_status", "payment_due_date"]),
            models.Index(fields=["agency", "-placed_at"]),
            models.Index(fields=["supplier", "-placed_at"]),
            models.Index(fields=["status", "latest_ship_date"]),
        ]
        constraints = [
            # One purchase is counted once: an invoice (number + seller) belongs to one order.
            models.UniqueConstraint(
                fields=["invoice_seller_credit_code", "invoice_number"],
                condition=~Q(invoice_number=""),
                name="one_order_per_invoice",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("paid_amount")),
                name="refunds_within_payment",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """A line with everything the buyer saw snapshotted, so catalog edits never change it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.ProductVariant", on_delete=models.PROTECT)
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT)
    sku = models.CharField(max_length=64)
    product_name = models.CharField(max_length=128)
    spec = models.CharField(max_length=64)
    unit = models.CharField(max_length=16)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=14, decimal_places=2)
    supplier_name = models.CharField(max_length=128)
    supplier_credit_code = models.CharField(max_length=18)
    origin_county_code = models.CharField(max_length=12)
    origin_county_name = models.CharField(max_length=32)
    category_name = models.CharField(max_length=32)
    accepted_quantity = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(accepted_quantity__isnull=True)
                | Q(accepted_quantity__lte=models.F("quantity")),
                name="accepted_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"


class OrderEvent(TransitionRecord):
    """Every status change, payment, parcel, complaint and refund of an order: who, when,
    what. Written by `record_order_event` and the mover (procurement/services/orders.py)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class Shipment(models.Model):
    """One parcel of an order: what it carries, how and when it travelled, and when the buyer
    accepted it (docs/decisions.md, "Shipments (issue 17)")."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    number = models.PositiveSmallIntegerField(help_text="1, 2, … within the order.")
    carrier = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=64)
    shipped_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="one_shipment_number")
        ]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.number}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.CASCADE, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()
    accepted_quantity = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["shipment_id", "order_line_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "order_line"], name="one_shipment_line_per_order_line"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="shipment_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(accepted_quantity__isnull=True)
                | Q(accepted_quantity__lte=models.F("quantity")),
                name="shipment_accepted_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"
