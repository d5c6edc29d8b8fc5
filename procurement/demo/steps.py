"""The plan's steps: each one service call, made as the person who would make it."""

from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from catalog.models import ProductVariant
from procurement.demo.buying import DISMISSED_NOTE, UPHELD_NOTE, CheckoutPlan, OrderPlan
from procurement.demo.ledger import IMPORT_FILENAME
from procurement.demo.organisations import NO_CANTEEN, Cast
from procurement.models import Agency, Order, OrderLine, PaymentMethod
from procurement.services import agencies as agency_services
from procurement.services import checkout as checkout_services
from procurement.services import complaints as complaint_services
from procurement.services import contributions as contribution_services
from procurement.services import orders as order_services
from procurement.services import payments as payment_services
from shop.accounts.models import User


class Steps:
    """The service calls of `Planner`, as its cast's people."""

    cast: Cast

    def buyer(self, plan: CheckoutPlan) -> User:
        return self.cast.buyers[plan.agency.pk]

    def do_checkout(self, plan: CheckoutPlan) -> None:
        for item, quantity in plan.lines:
            ProductVariant.objects.filter(pk=item.variant_id, stock__lt=quantity + 20).update(
                stock=F("stock") + quantity + 300
            )
        orders = checkout_services.checkout_create(
            acting_user=self.buyer(plan),
            lines=[checkout_services.CheckoutLine(i.variant_id, q) for i, q in plan.lines],
            shipping=checkout_services.ShippingAddress(
                plan.agency.contact_name,
                plan.agency.contact_phone,
                self.cast.address[plan.agency.pk],
            ),
            idempotency_key=f"demo-checkout-{plan.number:05d}",
            ship_within_days=plan.ship_within,
        )
        for order in orders:
            plan.orders[order.supplier_id].order_id = order.pk

    def staff(self, order: OrderPlan) -> User:
        return self.cast.staff[order.supplier_id]

    def do_confirm(self, order: OrderPlan) -> None:
        order_services.order_confirm(acting_user=self.staff(order), order_id=order.order_id)

    def do_reject(self, order: OrderPlan, reason: str) -> None:
        order_services.order_reject(
            acting_user=self.staff(order), order_id=order.order_id, reason=reason
        )

    def do_cancel(self, plan: CheckoutPlan, order: OrderPlan, reason: str) -> None:
        order_services.order_cancel(
            acting_user=self.buyer(plan), order_id=order.order_id, reason=reason
        )

    def do_ship(self, order: OrderPlan, tracking: str) -> None:
        order_services.order_ship(
            acting_user=self.staff(order), order_id=order.order_id, tracking_number=tracking
        )

    def do_accept(self, plan: CheckoutPlan, order: OrderPlan, partially: bool) -> None:
        accepted = []
        if partially:
            line = OrderLine.objects.filter(order_id=order.order_id).order_by("-quantity").first()
            short = max(1, line.quantity // 12)
            accepted.append(order_services.AcceptedLine(line.pk, line.quantity - short))
        order_services.order_accept(
            acting_user=self.buyer(plan), order_id=order.order_id, lines=accepted
        )

    def do_complain(self, plan: CheckoutPlan, order: OrderPlan, kind: str, text: str) -> None:
        complaint = complaint_services.complaint_create(
            acting_user=self.buyer(plan), order_id=order.order_id, kind=kind, description=text
        )
        order.complaint_id = complaint.pk

    def do_resolve(self, order: OrderPlan, upheld: bool) -> None:
        complaint_services.complaint_resolve(
            acting_user=self.cast.operator,
            complaint_id=order.complaint_id,
            upheld=upheld,
            note=UPHELD_NOTE if upheld else DISMISSED_NOTE,
        )

    def do_pay_start(self, plan: CheckoutPlan, order: OrderPlan) -> None:
        payment_services.payment_create(
            acting_user=self.buyer(plan),
            order_id=order.order_id,
            method=PaymentMethod.BANK_TRANSFER,
        )

    def do_pay(self, order: OrderPlan) -> None:
        day = timezone.localdate()
        payment_services.payment_record_transfer(
            acting_user=self.cast.operator,
            order_id=order.order_id,
            reference=f"CMB{day:%Y%m%d}{order.order_id:08d}",
        )

    def do_invoice(self, order: OrderPlan) -> None:
        number, code, value = Order.objects.values_list(
            "number", "supplier__credit_code", "accepted_value"
        ).get(pk=order.order_id)
        order_services.order_invoice_attach(
            acting_user=self.staff(order),
            order_id=order.order_id,
            # 全电发票: 20 digits, year and issuing region (64 Ningxia) first.
            number=f"{timezone.localdate():%y}642000{order.order_id:012d}",
            seller_credit_code=code,
            amount=value,
        )

    def do_complete(self, plan: CheckoutPlan, order: OrderPlan) -> None:
        order_services.order_complete(acting_user=self.buyer(plan), order_id=order.order_id)

    def do_refund(self, order: OrderPlan, share: Decimal | None, reason: str) -> None:
        paid, refunded = Order.objects.values_list("paid_amount", "refunded_amount").get(
            pk=order.order_id
        )
        left = paid - refunded
        amount = left if share is None else min(left, (paid * share).quantize(Decimal("0.01")))
        if amount > 0:
            # Operators book most refunds; suppliers refund their own orders too.
            actor = self.cast.operator if order.order_id % 3 else self.staff(order)
            payment_services.order_refund(
                acting_user=actor, order_id=order.order_id, amount=amount, reason=reason
            )

    def do_import(self, data: bytes) -> None:
        contribution_services.contribution_import(
            acting_user=self.cast.operator, filename=IMPORT_FILENAME, data=data
        )

    def do_plan(self, agency: Agency, year: int, canteen_total: Decimal, ratio: Decimal) -> None:
        agency_services.reserved_share_plan_set(
            acting_user=self.cast.operator,
            agency_id=agency.pk,
            year=year,
            canteen_total=canteen_total,
            ratio=ratio,
            no_canteen=agency.name in NO_CANTEEN,
        )
