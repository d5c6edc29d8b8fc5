"""Paying for accepted goods over the real stripe-compatible mock, bank transfers, refunds."""

from decimal import Decimal

import pytest
import stripe
from django.conf import settings
from graphql_relay import to_global_id

from procurement.models import (
    ContributionEntry,
    Order,
    Payment,
    PaymentState,
    PaymentStatus,
    Refund,
)
from procurement.services import payments
from shop.payments import gateway
from shop.payments.mock.delivery import wait_for_deliveries
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant

PAY = """mutation($id: ID!, $method: PaymentMethod!, $pm: String) {
  paymentCreate(orderId: $id, method: $method, paymentMethod: $pm) {
    payment { status amount { amount } clientSecret } order { paymentStatus paidAmount { amount } }
    errors { field code message } } }"""
REFUND = """mutation($id: ID!, $amount: Decimal!) { orderRefund(orderId: $id, amount: $amount, reason: "部分变质") {
    refund { amount { amount } } order { paymentStatus refundedAmount { amount } } errors { field code } } }"""


def oid(order) -> str:
    return to_global_id("Order", order.pk)


@pytest.mark.usefixtures("stripe_mock")
def test_card_payment_confirmed_at_once_pays_the_accepted_value(gql, accepted):
    order, user = accepted
    payload = gql(PAY, {"id": oid(order), "method": "CARD", "pm": "pm_card_visa"}, user=user)[
        "data"
    ]["paymentCreate"]
    assert payload["errors"] == []
    assert payload["payment"]["status"] == "SUCCEEDED"
    assert payload["payment"]["amount"] == {"amount": "514.00"}
    assert payload["order"] == {"paymentStatus": "PAID", "paidAmount": {"amount": "514.00"}}
    intent = gateway.retrieve_payment_intent(Payment.objects.get().gateway_intent_id)
    assert (intent.status, intent.amount) == ("succeeded", Decimal("514.00"))
    wait_for_deliveries()  # the succeeded webhook arrives later and changes nothing more
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID
    assert ContributionEntry.objects.filter(order=order).count() == 1


@pytest.mark.usefixtures("stripe_mock")
def test_card_confirmed_client_side_settles_through_the_signed_webhook(gql, accepted):
    order, user = accepted
    payload = gql(PAY, {"id": oid(order), "method": "CARD"}, user=user)["data"]["paymentCreate"]
    assert payload["payment"]["status"] == "PENDING"
    assert payload["payment"]["clientSecret"].startswith("pi_")
    # What stripe.js would do in the browser: confirm the intent with the official SDK.
    intent_id = Payment.objects.get().gateway_intent_id
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )
    client.v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    wait_for_deliveries()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID
    assert Payment.objects.get().state == PaymentState.SUCCEEDED
    # A replay of the same settlement changes nothing.
    payments.payment_settle_from_gateway(payment_intent_id=intent_id)
    assert ContributionEntry.objects.filter(order=order).count() == 1


@pytest.mark.usefixtures("stripe_mock")
def test_card_refunds_go_back_through_the_gateway(gql, operator, accepted):
    order, user = accepted
    gql(PAY, {"id": oid(order), "method": "CARD", "pm": "pm_card_visa"}, user=user)
    partial = gql(REFUND, {"id": oid(order), "amount": "100.00"}, user=operator)["data"][
        "orderRefund"
    ]
    assert partial["order"] == {
        "paymentStatus": "PARTIALLY_REFUNDED",
        "refundedAmount": {"amount": "100.00"},
    }
    too_much = gql(REFUND, {"id": oid(order), "amount": "414.01"}, user=operator)["data"][
        "orderRefund"
    ]
    assert too_much["errors"] == [{"field": "amount", "code": "REFUND_TOO_LARGE"}]
    rest = gql(REFUND, {"id": oid(order), "amount": "414.00"}, user=operator)["data"]["orderRefund"]
    assert rest["order"] == {"paymentStatus": "REFUNDED", "refundedAmount": {"amount": "514.00"}}
    intent = gateway.retrieve_payment_intent(Payment.objects.get().gateway_intent_id)
    assert intent.amount_refunded == Decimal("514.00")
    assert Refund.objects.count() == 2
    assert sum(ContributionEntry.objects.filter(order=order).values_list("amount", flat=True)) == 0


@pytest.mark.smoke
def test_bank_transfer_is_recorded_by_an_operator(gql, operator, accepted):
    order, user = accepted
    started = gql(PAY, {"id": oid(order), "method": "BANK_TRANSFER"}, user=user)["data"][
        "paymentCreate"
    ]
    assert started["payment"]["status"] == "PENDING"
    mutation = """mutation($id: ID!) { paymentRecordTransfer(orderId: $id, reference: "ICBC-20261128-0001") {
        payment { status } order { paymentStatus } errors { code } } }"""
    recorded = gql(mutation, {"id": oid(order)}, user=operator)["data"]["paymentRecordTransfer"]
    assert recorded == {
        "payment": {"status": "SUCCEEDED"},
        "order": {"paymentStatus": "PAID"},
        "errors": [],
    }
    assert Payment.objects.get().transfer_reference == "ICBC-20261128-0001"
    again = gql(mutation, {"id": oid(order)}, user=operator)["data"]["paymentRecordTransfer"]
    assert again["errors"] == [{"code": "ALREADY_PAID"}]


def test_payment_before_acceptance_is_refused(gql):
    user = buyer()
    (order,) = place(user, (stocked_variant(), 1))
    payload = gql(PAY, {"id": oid(order), "method": "BANK_TRANSFER"}, user=user)["data"][
        "paymentCreate"
    ]
    assert payload["errors"][0]["code"] == "INVALID_TRANSITION"
    assert not Payment.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-5", "1.001"])
def test_bad_refund_amounts_are_refused(gql, operator, accepted, amount):
    order, _user = accepted
    flows.pay_by_transfer(order, operator)
    payload = gql(REFUND, {"id": oid(order), "amount": amount}, user=operator)["data"][
        "orderRefund"
    ]
    assert payload["errors"] == [{"field": "amount", "code": "INVALID_AMOUNT"}]
    assert not Refund.objects.exists()
    assert Order.objects.get().refunded_amount == 0
