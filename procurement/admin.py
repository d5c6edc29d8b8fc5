"""Django admin for operators: read-only views of orders, payments, refunds, purchase requests,
budgets, the contribution ledger and targets.

Everything here is written by services only (checkout, the order and payment services, the ledger),
so the admin lists and shows and never adds, edits or deletes: a change made here would bypass the
rules, the audit trail and, for the ledger, the hash chain. Gateway secrets are not shown.
"""

from django.contrib import admin

from procurement.models import (
    AgencyBudget,
    ContributionEntry,
    Order,
    OrderLine,
    Payment,
    PaymentReminder,
    PurchaseRequest,
    Refund,
    Shipment,
    Target,
)
from shop.core.admin_access import ReadOnlyAdmin, ReadOnlyInline


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = readonly_fields = [
        "sku",
        "product_name",
        "spec",
        "unit_price",
        "quantity",
        "accepted_quantity",
    ]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = readonly_fields = [
        "method",
        "state",
        "amount",
        "transfer_reference",
        "created_at",
        "succeeded_at",
    ]


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = readonly_fields = [
        "number",
        "carrier",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "accepted_at",
    ]


class PaymentReminderInline(ReadOnlyInline):
    model = PaymentReminder
    fields = readonly_fields = ["kind", "due_date", "sent_on", "recipients"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "agency_name",
        "supplier",
        "status",
        "payment_status",
        "subtotal",
        "accepted_value",
        "invoice_number",
        "placed_at",
        "latest_ship_date",
        "payment_due_date",
        "paid_on_time",
    ]
    list_filter = ["status", "payment_status", "paid_on_time", "agency_type", "agency_city"]
    search_fields = ["number", "agency_name", "supplier__name", "invoice_number"]
    list_select_related = ["supplier"]
    date_hierarchy = "placed_at"
    exclude = ["checkout"]
    inlines = [OrderLineInline, ShipmentInline, PaymentInline, PaymentReminderInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["order", "method", "state", "amount", "transfer_reference", "created_at"]
    list_filter = ["method", "state"]
    search_fields = ["order__number", "gateway_intent_id", "transfer_reference"]
    list_select_related = ["order"]
    exclude = ["client_secret"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["order", "amount", "reason", "created_by", "created_at"]
    search_fields = ["order__number", "gateway_refund_id", "reason"]
    list_select_related = ["order", "created_by"]


@admin.register(PurchaseRequest)
class PurchaseRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "agency", "status", "total", "requested_by", "decided_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["agency__name", "requested_by__email", "decline_reason"]
    list_select_related = ["agency", "requested_by", "decided_by"]


@admin.register(AgencyBudget)
class AgencyBudgetAdmin(ReadOnlyAdmin):
    list_display = ["agency", "year", "line", "amount", "updated_at"]
    list_filter = ["year"]
    search_fields = ["agency__name", "line"]
    list_select_related = ["agency"]


@admin.register(ContributionEntry)
class ContributionEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "position",
        "business_date",
        "kind",
        "source",
        "amount",
        "agency_name",
        "agency_city",
        "supplier_name",
        "origin_county_name",
        "category",
        "invoice_number",
    ]
    list_filter = ["kind", "source", "channel", "agency_type", "agency_city"]
    search_fields = ["invoice_number", "agency_name", "supplier_name", "product_name", "reason"]
    date_hierarchy = "business_date"
    ordering = ["-position"]


@admin.register(Target)
class TargetAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "amount", "start_date", "end_date", "buyer_city"]
