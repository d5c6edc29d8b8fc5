"""The events an organisation can hear about: their names on the wire (`order.placed`) and in
the GraphQL contract (`ORDER_PLACED`), and who they concern."""

from enum import StrEnum


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_CONFIRMED = "order.confirmed"
    ORDER_SHIPPED = "order.shipped"
    ORDER_ACCEPTED = "order.accepted"
    PAYMENT_DUE = "payment.due"
    PAYMENT_OVERDUE = "payment.overdue"
    SUPPLIER_QUALIFICATION_EXPIRING = "supplier.qualification_expiring"
    SUPPLIER_SUSPENDED = "supplier.suspended"
    SUPPLIER_EXITED = "supplier.exited"
    # Sent only by `webhookTest`, to the one endpoint tested; nobody subscribes to it.
    WEBHOOK_TEST = "webhook.test"


DESCRIPTIONS: dict[EventType, str] = {
    EventType.ORDER_PLACED: "An agency placed an order (to the agency and the supplier).",
    EventType.ORDER_CONFIRMED: "The supplier confirmed an order.",
    EventType.ORDER_SHIPPED: "A parcel of an order shipped (`data.fullyShipped` when the last).",
    EventType.ORDER_ACCEPTED: "The agency accepted an order; its payment is due from now.",
    EventType.PAYMENT_DUE: "An accepted order's payment is due soon or today (to the agency).",
    EventType.PAYMENT_OVERDUE: "An accepted order's payment is past its due date "
    "(to the agency and the supplier).",
    EventType.SUPPLIER_QUALIFICATION_EXPIRING: "A required qualification of the supplier "
    "expires within 90, 30 or 7 days.",
    EventType.SUPPLIER_SUSPENDED: "The supplier was suspended (by an operator or the rules).",
    EventType.SUPPLIER_EXITED: "The supplier was made to exit the platform.",
    EventType.WEBHOOK_TEST: "A test delivery asked for with `webhookTest`.",
}

# What an endpoint or an e-mail preference may name.
SUBSCRIBABLE = tuple(t for t in EventType if t is not EventType.WEBHOOK_TEST)


class OrganisationKind(StrEnum):
    SUPPLIER = "supplier"
    AGENCY = "agency"


Organisation = tuple[OrganisationKind, int]


def supplier(supplier_id: int) -> Organisation:
    return (OrganisationKind.SUPPLIER, supplier_id)


def agency(agency_id: int) -> Organisation:
    return (OrganisationKind.AGENCY, agency_id)
