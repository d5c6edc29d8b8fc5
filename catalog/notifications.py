"""What the catalog tells a supplier (webhooks, in-app, e-mail): a required qualification about
to expire, a suspension, an exit. Called inside the transaction of the change."""

from graphql_relay import to_global_id

from catalog.models import Qualification, Supplier, SupplierStatus
from shop.notifications.events import EventType, supplier
from shop.notifications.services import Message, publish


def _supplier_data(target: Supplier) -> dict:
    return {
        "id": to_global_id("Supplier", target.pk),
        "name": target.name,
        "creditCode": target.credit_code,
        "status": target.status,
    }


def qualification_expiring(qualification: Qualification, days_left: int) -> None:
    target = qualification.supplier
    kind = qualification.get_kind_display()
    publish(
        EventType.SUPPLIER_QUALIFICATION_EXPIRING,
        {
            "supplier": _supplier_data(target),
            "qualification": {
                "id": to_global_id("Qualification", qualification.pk),
                "kind": qualification.kind,
                "number": qualification.number,
                "expiresOn": qualification.expires_on,
                "daysLeft": days_left,
            },
        },
        [supplier(target.pk)],
        message=Message(
            f"[山海] {kind}将于{days_left}天后到期",
            f"{target.name}：贵单位的{kind}（编号 {qualification.number}）"
            f"将于 {qualification.expires_on} 到期。请在到期前上传新证件，逾期将暂停供货资格。",
            extra_emails=(target.contact_email,),
        ),
    )


def withdrawn(target: Supplier, *, reason: str) -> None:
    """After a suspension or an exit, by an operator or by the rules."""
    suspended = target.status == SupplierStatus.SUSPENDED
    publish(
        EventType.SUPPLIER_SUSPENDED if suspended else EventType.SUPPLIER_EXITED,
        {"supplier": _supplier_data(target), "reason": reason},
        [supplier(target.pk)],
        message=Message("[山海] 供货资格已暂停" if suspended else "[山海] 已退出供货", reason),
    )
