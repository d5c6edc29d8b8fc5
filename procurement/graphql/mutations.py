"""Procurement mutations: each parses its input, calls one service and returns the payload."""

import graphene

from procurement import selectors
from procurement.access import POLICIES
from procurement.graphql.types import (
    AgencyNode,
    AgencyTypeEnum,
    ComplaintKindEnum,
    ComplaintType,
    OrderType,
    PaymentMethodEnum,
    PaymentType,
    ProcurementError,
    RefundType,
    ReservedShareType,
    ShipmentType,
)
from procurement.services import agencies, checkout, complaints, orders, payments, shipments
from shop.core.graphql.errors import errors_field
from shop.core.graphql.ids import decode_id
from shop.core.graphql.mutations import BaseMutation, error_payloads


def _value(member):
    return getattr(member, "value", member)


class AgencyCreateInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    credit_code = graphene.String(required=True)
    type = AgencyTypeEnum(required=True)
    city_id = graphene.ID(required=True, description="A Fujian city (see `cities`).")
    district = graphene.String()
    contact_name = graphene.String()
    contact_phone = graphene.String()


class AgencyCreate(BaseMutation):
    """Register a Fujian buyer (operator)."""

    allowed_roles = POLICIES["agencyCreate"]

    class Arguments:
        input = AgencyCreateInput(required=True)

    agency = graphene.Field(AgencyNode)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, input):
        agency = agencies.agency_create(
            acting_user=info.context.user,
            data=agencies.AgencyInput(
                name=input.name,
                credit_code=input.credit_code,
                type=_value(input.type),
                city_id=decode_id(input.city_id, "City"),
                district=input.get("district") or "",
                contact_name=input.get("contact_name") or "",
                contact_phone=input.get("contact_phone") or "",
            ),
        )
        return cls(agency=agency)


class ReservedSharePlanSet(BaseMutation):
    """File a year's reserved-share plan (the agency's buyers or an operator)."""

    allowed_roles = POLICIES["reservedSharePlanSet"]

    class Arguments:
        agency_id = graphene.ID(required=True)
        year = graphene.Int(required=True)
        canteen_total = graphene.Decimal(description="Yearly canteen food purchases, CNY.")
        ratio = graphene.Decimal(description="At least 0.10 unless there is no canteen.")
        no_canteen = graphene.Boolean(default_value=False)

    reserved_share = graphene.Field(ReservedShareType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, agency_id, year, canteen_total=None, ratio=None, no_canteen=False):
        plan = agencies.reserved_share_plan_set(
            acting_user=info.context.user,
            agency_id=decode_id(agency_id, "Agency"),
            year=year,
            canteen_total=canteen_total,
            ratio=ratio,
            no_canteen=bool(no_canteen),
        )
        return cls(reserved_share=selectors.reserved_share(plan.agency, plan.year))


class CheckoutLineInput(graphene.InputObjectType):
    variant_id = graphene.ID(required=True)
    quantity = graphene.Int(required=True)


class ShippingAddressInput(graphene.InputObjectType):
    recipient = graphene.String(required=True)
    phone = graphene.String(required=True)
    address = graphene.String(required=True)


def basket_arguments(lines, shipping_address) -> dict:
    """A basket's lines and address as the checkout services take them."""
    return {
        "lines": [
            # A malformed ID becomes 0, which matches no variant: VARIANT_NOT_FOUND.
            checkout.CheckoutLine(decode_id(line.variant_id, "ProductVariant") or 0, line.quantity)
            for line in lines
        ],
        "shipping": checkout.ShippingAddress(
            shipping_address.recipient, shipping_address.phone, shipping_address.address
        ),
    }


class CheckoutCreate(BaseMutation):
    """Buy: all or nothing, one order per supplier. Retrying with the same idempotency key
    returns the same orders."""

    allowed_roles = POLICIES["checkoutCreate"]

    class Arguments:
        lines = graphene.List(graphene.NonNull(CheckoutLineInput), required=True)
        shipping_address = ShippingAddressInput(required=True)
        idempotency_key = graphene.String(required=True)
        ship_within_days = graphene.Int(default_value=7, description="7, 15 or 30.")
        budget_line = graphene.String(
            description="The budget line (预算科目) to charge; one of the agency's this year."
        )

    # Commits on its own: the service's transaction is all or nothing (and idempotent), and it
    # ends with the stock of possibly everybody's favourite products locked. In the request's
    # transaction those locks would be held until the whole response had been resolved.
    atomic_request = False

    orders = graphene.List(graphene.NonNull(OrderType))
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, lines, shipping_address, **options):
        placed = checkout.checkout_create(
            acting_user=info.context.user, **basket_arguments(lines, shipping_address), **options
        )
        return cls(orders=placed)


class OrderMutation(BaseMutation):
    class Meta:
        abstract = True

    order = graphene.Field(OrderType)
    errors = errors_field(ProcurementError)


class OrderConfirm(OrderMutation):
    """Accept a placed order (supplier)."""

    allowed_roles = POLICIES["orderConfirm"]

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, id):
        return cls(
            order=orders.order_confirm(
                acting_user=info.context.user, order_id=decode_id(id, "Order")
            )
        )


class OrderReject(OrderMutation):
    """Decline a placed order (supplier); its stock is released."""

    allowed_roles = POLICIES["orderReject"]

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String(required=True)

    @classmethod
    def perform(cls, info, id, reason):
        order = orders.order_reject(
            acting_user=info.context.user, order_id=decode_id(id, "Order"), reason=reason
        )
        return cls(order=order)


class OrderShip(OrderMutation):
    allowed_roles = POLICIES["orderShip"]

    class Arguments:
        id = graphene.ID(required=True)
        tracking_number = graphene.String(required=True)

    @classmethod
    def perform(cls, info, id, tracking_number):
        order = orders.order_ship(
            acting_user=info.context.user,
            order_id=decode_id(id, "Order"),
            tracking_number=tracking_number,
        )
        return cls(order=order)


class OrderAcceptLineInput(graphene.InputObjectType):
    line_id = graphene.ID(required=True)
    accepted_quantity = graphene.Int(required=True)


class OrderAccept(OrderMutation):
    """验收 (agency): lines not listed are accepted in full; rejected units return to stock."""

    allowed_roles = POLICIES["orderAccept"]

    class Arguments:
        id = graphene.ID(required=True)
        lines = graphene.List(graphene.NonNull(OrderAcceptLineInput))

    @classmethod
    def perform(cls, info, id, lines=None):
        order = orders.order_accept(
            acting_user=info.context.user,
            order_id=decode_id(id, "Order"),
            lines=[
                orders.AcceptedLine(decode_id(line.line_id, "OrderLine"), line.accepted_quantity)
                for line in lines or []
            ],
        )
        return cls(order=order)


class ShipmentLineInput(graphene.InputObjectType):
    line_id = graphene.ID(required=True, description="An OrderLine of the order.")
    quantity = graphene.Int(required=True)


class ShipmentMutation(BaseMutation):
    class Meta:
        abstract = True

    shipment = graphene.Field(ShipmentType)
    order = graphene.Field(OrderType)
    errors = errors_field(ProcurementError)


class ShipmentCreate(ShipmentMutation):
    """Ship some units of a confirmed order in one parcel (supplier). At most what was ordered
    less what already shipped; the order becomes SHIPPED with its last unit."""

    allowed_roles = POLICIES["shipmentCreate"]

    class Arguments:
        order_id = graphene.ID(required=True)
        carrier = graphene.String(required=True)
        tracking_number = graphene.String(required=True)
        lines = graphene.List(graphene.NonNull(ShipmentLineInput), required=True)

    @classmethod
    def perform(cls, info, order_id, carrier, tracking_number, lines):
        shipment = shipments.shipment_create(
            acting_user=info.context.user,
            order_id=decode_id(order_id, "Order"),
            carrier=carrier,
            tracking_number=tracking_number,
            lines=[
                shipments.ShippedLine(decode_id(line.line_id, "OrderLine"), line.quantity)
                for line in lines
            ],
        )
        return cls(shipment=shipment, order=shipment.order)


class ShipmentMarkDelivered(ShipmentMutation):
    """Record that a parcel arrived (supplier)."""

    allowed_roles = POLICIES["shipmentMarkDelivered"]

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, id):
        shipment = shipments.shipment_mark_delivered(
            acting_user=info.context.user, shipment_id=decode_id(id, "Shipment")
        )
        return cls(shipment=shipment, order=shipment.order)


class ShipmentAccept(ShipmentMutation):
    """验收 of one parcel (agency): lines not listed are accepted in full. Accepting the last
    parcel of a fully shipped order accepts the order."""

    allowed_roles = POLICIES["shipmentAccept"]

    class Arguments:
        id = graphene.ID(required=True)
        lines = graphene.List(graphene.NonNull(OrderAcceptLineInput))

    @classmethod
    def perform(cls, info, id, lines=None):
        shipment = shipments.shipment_accept(
            acting_user=info.context.user,
            shipment_id=decode_id(id, "Shipment"),
            lines=[
                orders.AcceptedLine(decode_id(line.line_id, "OrderLine"), line.accepted_quantity)
                for line in lines or []
            ],
        )
        return cls(shipment=shipment, order=shipment.order)


class OrderCancel(OrderMutation):
    """Cancel an order the supplier has not confirmed (agency)."""

    allowed_roles = POLICIES["orderCancel"]

    class Arguments:
        id = graphene.ID(required=True)
        reason = graphene.String()

    @classmethod
    def perform(cls, info, id, reason=""):
        order = orders.order_cancel(
            acting_user=info.context.user, order_id=decode_id(id, "Order"), reason=reason
        )
        return cls(order=order)


class OrderInvoiceAttach(OrderMutation):
    """Attach the invoice (发票) for the accepted goods (supplier)."""

    allowed_roles = POLICIES["orderInvoiceAttach"]

    class Arguments:
        id = graphene.ID(required=True)
        number = graphene.String(required=True)
        seller_credit_code = graphene.String(required=True)
        amount = graphene.Decimal(required=True)

    @classmethod
    def perform(cls, info, id, number, seller_credit_code, amount):
        order = orders.order_invoice_attach(
            acting_user=info.context.user,
            order_id=decode_id(id, "Order"),
            number=number,
            seller_credit_code=seller_credit_code,
            amount=amount,
        )
        return cls(order=order)


class OrderComplete(OrderMutation):
    """Close an accepted, invoiced and paid order (agency or operator)."""

    allowed_roles = POLICIES["orderComplete"]

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, id):
        return cls(
            order=orders.order_complete(
                acting_user=info.context.user, order_id=decode_id(id, "Order")
            )
        )


class PaymentCreate(BaseMutation):
    """Pay the accepted value (agency). With `paymentMethod` (e.g. `pm_card_visa`) a card
    payment is confirmed at once; otherwise confirm it client-side with `clientSecret`."""

    allowed_roles = POLICIES["paymentCreate"]

    class Arguments:
        order_id = graphene.ID(required=True)
        method = PaymentMethodEnum(required=True)
        payment_method = graphene.String()

    payment = graphene.Field(PaymentType)
    order = graphene.Field(OrderType)
    errors = errors_field(ProcurementError)

    # Calls the gateway: runs in its own committed steps, never inside the request's
    # transaction (procurement/services/payments.py).
    atomic_request = False

    @classmethod
    def perform(cls, info, order_id, method, payment_method=None):
        try:
            payment = payments.payment_create(
                acting_user=info.context.user,
                order_id=decode_id(order_id, "Order"),
                method=_value(method),
                payment_method=payment_method,
            )
        except payments.PaymentFailed as failed:
            # The declined attempt is committed and readable as FAILED.
            return cls(
                payment=failed.payment, order=failed.payment.order, errors=error_payloads(failed)
            )
        return cls(payment=payment, order=payment.order)


class PaymentRecordTransfer(BaseMutation):
    """Record a bank transfer that arrived (operator)."""

    allowed_roles = POLICIES["paymentRecordTransfer"]

    class Arguments:
        order_id = graphene.ID(required=True)
        reference = graphene.String(required=True)

    payment = graphene.Field(PaymentType)
    order = graphene.Field(OrderType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, order_id, reference):
        payment = payments.payment_record_transfer(
            acting_user=info.context.user,
            order_id=decode_id(order_id, "Order"),
            reference=reference,
        )
        return cls(payment=payment, order=payment.order)


class OrderRefund(BaseMutation):
    """Refund part or all of a payment (operator, or the order's supplier)."""

    allowed_roles = POLICIES["orderRefund"]

    class Arguments:
        order_id = graphene.ID(required=True)
        amount = graphene.Decimal(required=True)
        reason = graphene.String(required=True)

    refund = graphene.Field(RefundType)
    order = graphene.Field(OrderType)
    errors = errors_field(ProcurementError)

    atomic_request = False  # calls the gateway, as PaymentCreate

    @classmethod
    def perform(cls, info, order_id, amount, reason):
        refund = payments.order_refund(
            acting_user=info.context.user,
            order_id=decode_id(order_id, "Order"),
            amount=amount,
            reason=reason,
        )
        return cls(refund=refund, order=refund.order)


class ComplaintCreate(BaseMutation):
    """Complain about an order's goods (the buying agency)."""

    allowed_roles = POLICIES["complaintCreate"]

    class Arguments:
        order_id = graphene.ID(required=True)
        kind = ComplaintKindEnum(required=True)
        description = graphene.String(required=True)

    complaint = graphene.Field(ComplaintType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, order_id, kind, description):
        complaint = complaints.complaint_create(
            acting_user=info.context.user,
            order_id=decode_id(order_id, "Order"),
            kind=_value(kind),
            description=description,
        )
        return cls(complaint=complaint)


class ComplaintResolve(BaseMutation):
    """Decide a complaint (operator); upheld quality complaints count toward supplier exit."""

    allowed_roles = POLICIES["complaintResolve"]

    class Arguments:
        id = graphene.ID(required=True)
        upheld = graphene.Boolean(required=True)
        note = graphene.String(required=True)

    complaint = graphene.Field(ComplaintType)
    errors = errors_field(ProcurementError)

    @classmethod
    def perform(cls, info, id, upheld, note):
        complaint = complaints.complaint_resolve(
            acting_user=info.context.user,
            complaint_id=decode_id(id, "Complaint"),
            upheld=upheld,
            note=note,
        )
        return cls(complaint=complaint)


class ProcurementMutations(graphene.ObjectType):
    agency_create = AgencyCreate.Field()
    reserved_share_plan_set = ReservedSharePlanSet.Field()
    checkout_create = CheckoutCreate.Field()
    order_confirm = OrderConfirm.Field()
    order_reject = OrderReject.Field()
    order_ship = OrderShip.Field()
    order_accept = OrderAccept.Field()
    shipment_create = ShipmentCreate.Field()
    shipment_mark_delivered = ShipmentMarkDelivered.Field()
    shipment_accept = ShipmentAccept.Field()
    order_cancel = OrderCancel.Field()
    order_invoice_attach = OrderInvoiceAttach.Field()
    order_complete = OrderComplete.Field()
    payment_create = PaymentCreate.Field()
    payment_record_transfer = PaymentRecordTransfer.Field()
    order_refund = OrderRefund.Field()
    complaint_create = ComplaintCreate.Field()
    complaint_resolve = ComplaintResolve.Field()
