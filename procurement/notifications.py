"""What procurement tells the organisations concerned (webhooks, in-app, e-mail): an order
placed, confirmed, shipped (each parcel) and accepted, and a payment due or overdue. Called
inside the transaction of the change; shop.notifications does the rest after commit."""

from collections.abc import Iterable
from typing import Any

from graphql_relay import to_global_id

from procurement.models import Order
from shop.notifications.events import EventType, agency, supplier
from shop.notifications.services import Draft, Message, publish, publish_all


def order_data(order: Order, supplier_name: str) -> dict[str, Any]:
    """An order as a webhook's `data.order`: global IDs as the GraphQL API gives them."""
    return {
        "id": to_global_id("Order", order.pk),
        "number": order.number,
        "status": order.status,
        "agency": {"id": to_global_id("Agency", order.agency_id), "name": order.agency_name},
        "supplier": {"id": to_global_id("Supplier", order.supplier_id), "name": supplier_name},
        "subtotal": {"amount": str(order.subtotal), "currency": "CNY"},
        "paymentDueDate": order.payment_due_date,
    }


def _both(order: Order) -> tuple:
    return (agency(order.agency_id), supplier(order.supplier_id))


def orders_placed(orders: Iterable[tuple[Order, str]]) -> None:
    """A checkout's orders, with each one's supplier name: one event per order."""
    publish_all(
        [
            Draft(
                EventType.ORDER_PLACED,
                {"order": order_data(order, name)},
                _both(order),
                Message(
                    f"[山海] 新订单 {order.number}",
                    f"{order.agency_name} 向 {name} 下单 {order.number}，"
                    f"金额 {order.subtotal} 元。",
                ),
            )
            for order, name in orders
        ]
    )


_STATUS_EVENTS = {
    "CONFIRMED": (EventType.ORDER_CONFIRMED, "已确认"),
    "ACCEPTED": (EventType.ORDER_ACCEPTED, "已验收"),
}


def order_moved(order: Order) -> None:
    """After a status change: confirmed and accepted are told (shipped goes per parcel)."""
    found = _STATUS_EVENTS.get(order.status)
    if found is None:
        return
    event_type, word = found
    body = f"订单 {order.number}（{order.agency_name} / {order.supplier.name}）{word}。"
    if order.payment_due_date:
        body += f"付款期限 {order.payment_due_date:%Y-%m-%d}。"
    publish(
        event_type,
        {"order": order_data(order, order.supplier.name)},
        _both(order),
        message=Message(f"[山海] 订单 {order.number} {word}", body),
    )


def order_shipment(order: Order, shipment: Any, *, fully_shipped: bool) -> None:
    """A parcel shipped; `fullyShipped` when nothing of the order is left to ship."""
    parcel = f"{shipment.carrier} {shipment.tracking_number}".strip()
    publish(
        EventType.ORDER_SHIPPED,
        {
            "order": order_data(order, order.supplier.name),
            "shipment": {
                "id": to_global_id("Shipment", shipment.pk),
                "number": shipment.number,
                "carrier": shipment.carrier,
                "trackingNumber": shipment.tracking_number,
                "shippedAt": shipment.shipped_at,
            },
            "fullyShipped": fully_shipped,
        },
        _both(order),
        message=Message(
            f"[山海] 订单 {order.number} 已发货（第 {shipment.number} 件）",
            f"{order.supplier.name} 已发出订单 {order.number} "
            f"的第 {shipment.number} 件：{parcel}。",
        ),
    )


def payment_reminder(order: Order, *, overdue: bool, days_overdue: int, subject: str, body: str):
    """A payment reminder: due (to the agency) or overdue (to the agency and the supplier)."""
    return publish(
        EventType.PAYMENT_OVERDUE if overdue else EventType.PAYMENT_DUE,
        {
            "order": order_data(order, order.supplier.name),
            "amount": {"amount": str(order.accepted_value), "currency": "CNY"},
            "dueDate": order.payment_due_date,
            "daysOverdue": days_overdue,
        },
        _both(order) if overdue else (agency(order.agency_id),),
        message=Message(subject, body),
        message_to=(agency(order.agency_id),),  # the supplier hears of it by webhook
    )
