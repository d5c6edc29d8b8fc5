"""Card payments and refunds in three steps (record and commit, call the gateway with no lock,
apply under the row lock): a crash between any two steps loses nothing and never charges or
refunds twice, once the signed webhook or `payments_reconcile` has run.

A crash is injected by wrapping one gateway function so that it raises `Crash` before or after
the real call reached the mock (the request then ends with INTERNAL_SERVER_ERROR, and nothing
after that point ran, as if the process had died there)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from procurement.models import (
    ContributionEntry,
    ContributionSource,
    Order,
    Payment,
    PaymentState,
    PaymentStatus,
    Refund,
    RefundState,
)
from procurement.services import payments
from shop.payments import gateway
from shop.payments.mock.delivery import wait_for_deliveries
from shop.payments.mock.models import MockCharge, MockPaymentIntent, MockRefund
from tests.conftest import GraphQLClient, top_level_codes
from tests.procurement.test_payments import oid

PAY = """mutation($id: ID!, $pm: String) {
  paymentCreate(orderId: $id, method: CARD, paymentMethod: $pm) {
    payment { status failureMessage } order { paymentStatus } errors { field code message } } }"""
REFUND = """mutation($id: ID!, $amount: Decimal!) {
  orderRefund(orderId: $id, amount: $amount, reason: "部分变质") {
    refund { amount { amount } } order { paymentStatus refundedAmount { amount } }
    errors { field code } } }"""

pytestmark = pytest.mark.usefixtures("stripe_mock")


class Crash(Exception):
    """The process dying at this point."""


def crash_around(monkeypatch, name: str, *, after: bool) -> None:
    """Make `gateway.<name>` crash once, before or after the real call reached the mock."""
    real = getattr(gateway, name)
    calls = []

    def crashing(*args, **kwargs):
        if calls:
            return real(*args, **kwargs)
        calls.append(name)
        if after:
            real(*args, **kwargs)
        raise Crash(f"crashed {'after' if after else 'before'} {name}")

    monkeypatch.setattr(gateway, name, crashing)


@pytest.fixture
def no_webhooks(settings, stripe_mock):
    """The mock's deliveries go nowhere (as when the receiver is down): only reconcile settles."""
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{stripe_mock.url}/webhooks/nowhere/"


def pay(gql, order, user, pm="pm_card_visa") -> dict:
    return gql(PAY, {"id": oid(order), "pm": pm}, user=user)


def refund(gql, order, operator, amount: str) -> dict:
    return gql(REFUND, {"id": oid(order), "amount": amount}, user=operator)


def reconcile() -> None:
    call_command("payments_reconcile")


def succeeded_charges() -> int:
    return MockCharge.objects.filter(status="succeeded").count()


def order_entries(order) -> list[Decimal]:
    return list(
        ContributionEntry.objects.filter(order=order)
        .order_by("position")
        .values_list("amount", flat=True)
    )


def assert_paid_once(order) -> None:
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID
    assert succeeded_charges() == 1
    assert MockPaymentIntent.objects.count() == 1
    assert Payment.objects.filter(state=PaymentState.SUCCEEDED).count() == 1
    assert order_entries(order) == [Decimal("514.00")]


def test_crash_before_the_intent_is_created_charges_nothing_and_paying_again_charges_once(
    gql, accepted, monkeypatch
):
    order, user = accepted
    crash_around(monkeypatch, "create_payment_intent", after=False)
    assert top_level_codes(pay(gql, order, user)) == ["INTERNAL_SERVER_ERROR"]
    assert Payment.objects.get().state == PaymentState.PENDING
    reconcile()  # creates the intent under the attempt's key, but nobody confirmed it
    assert (Payment.objects.get().state, succeeded_charges()) == (PaymentState.PENDING, 0)
    assert pay(gql, order, user)["data"]["paymentCreate"]["errors"] == []
    assert_paid_once(order)


def test_crash_after_the_intent_was_created_reuses_that_intent(gql, accepted, monkeypatch):
    order, user = accepted
    crash_around(monkeypatch, "create_payment_intent", after=True)
    assert top_level_codes(pay(gql, order, user)) == ["INTERNAL_SERVER_ERROR"]
    assert Payment.objects.get().gateway_intent_id == ""  # the id never reached our row
    assert pay(gql, order, user)["data"]["paymentCreate"]["errors"] == []
    assert_paid_once(order)


def test_crash_after_the_charge_is_settled_by_the_webhook(gql, accepted, monkeypatch):
    order, user = accepted
    crash_around(monkeypatch, "confirm_payment_intent", after=True)
    assert top_level_codes(pay(gql, order, user)) == ["INTERNAL_SERVER_ERROR"]
    wait_for_deliveries()
    assert_paid_once(order)
    reconcile()
    assert_paid_once(order)


@pytest.mark.usefixtures("no_webhooks")
def test_crash_after_the_charge_is_settled_by_reconcile(gql, accepted, monkeypatch):
    order, user = accepted
    crash_around(monkeypatch, "confirm_payment_intent", after=True)
    assert top_level_codes(pay(gql, order, user)) == ["INTERNAL_SERVER_ERROR"]
    wait_for_deliveries()
    assert Payment.objects.get().state == PaymentState.PENDING
    reconcile()
    assert_paid_once(order)
    reconcile()
    assert_paid_once(order)


def test_lost_answer_of_the_charge_is_read_back_at_once(gql, accepted, monkeypatch):
    """The gateway charged but its answer never arrived: the intent is read back."""
    order, user = accepted
    real = gateway.confirm_payment_intent

    def answer_lost(*args, **kwargs):
        real(*args, **kwargs)
        raise gateway.GatewayError("timeout", code="GATEWAY_UNAVAILABLE")

    monkeypatch.setattr(gateway, "confirm_payment_intent", answer_lost)
    payload = pay(gql, order, user)["data"]["paymentCreate"]
    assert (payload["errors"], payload["payment"]["status"]) == ([], "SUCCEEDED")
    wait_for_deliveries()
    assert_paid_once(order)


@pytest.mark.postgres
def test_parallel_payments_of_one_order_charge_once(gql, accepted):
    order, user = accepted
    barrier = threading.Barrier(4)

    def one(_n: int) -> dict:
        barrier.wait()
        try:
            return pay(GraphQLClient(), order, user)["data"]["paymentCreate"]
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(one, range(4)))
    for answer in answers:  # paid by this request, or found already paid by another one
        codes = [error["code"] for error in answer["errors"]]
        assert codes == ["ALREADY_PAID"] or answer["order"] == {"paymentStatus": "PAID"}
    wait_for_deliveries()
    assert_paid_once(order)
    assert Payment.objects.count() == 1  # the later requests reused the pending attempt


def test_abandoned_intent_is_cancelled_by_reconcile(gql, accepted):
    order, user = accepted
    assert pay(gql, order, user, pm=None)["data"]["paymentCreate"]["errors"] == []
    call_command("payments_reconcile", "--abandon-after-hours", "0")
    wait_for_deliveries()
    assert Payment.objects.get().state == PaymentState.CANCELLED
    assert MockPaymentIntent.objects.get().status == "canceled"
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.UNPAID


def test_declined_card_returns_payment_declined_and_the_failed_payment(gql, accepted):
    order, user = accepted
    payload = pay(gql, order, user, pm="pm_card_chargeDeclined")["data"]["paymentCreate"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("paymentMethod", "PAYMENT_DECLINED")
    ]
    assert payload["payment"]["status"] == "FAILED"
    assert payload["payment"]["failureMessage"] == payload["errors"][0]["message"]
    assert payload["order"] == {"paymentStatus": "UNPAID"}
    # The failed attempt is committed, not rolled back with the mutation's error.
    assert Payment.objects.get().state == PaymentState.FAILED
    assert not ContributionEntry.objects.exists()
    wait_for_deliveries()  # the payment_failed webhook changes nothing more
    assert Payment.objects.get().state == PaymentState.FAILED
    assert pay(gql, order, user)["data"]["paymentCreate"]["errors"] == []  # another card
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID


def test_payment_must_be_the_only_field_of_its_request(gql, accepted):
    order, user = accepted
    query = """mutation($id: ID!) {
      paymentCreate(orderId: $id, method: CARD, paymentMethod: "pm_card_visa") { errors { code } }
      me: orderCancel(id: $id) { errors { code } } }"""
    response = gql(query, {"id": oid(order)}, user=user)
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert (
        "paymentCreate must be the only mutation in its request" in response["errors"][0]["message"]
    )
    assert not Payment.objects.exists()
    assert not MockPaymentIntent.objects.exists()


# --- refunds ------------------------------------------------------------------------------------


@pytest.fixture
def paid(gql, accepted):
    order, user = accepted
    assert pay(gql, order, user)["data"]["paymentCreate"]["errors"] == []
    wait_for_deliveries()
    order.refresh_from_db()
    return order


def refund_entries(order) -> list[Decimal]:
    return list(
        ContributionEntry.objects.filter(order=order, source=ContributionSource.REFUND)
        .order_by("position")
        .values_list("amount", flat=True)
    )


def assert_refunded_once(order, amount: str) -> None:
    order.refresh_from_db()
    assert order.refunded_amount == Decimal(amount)
    assert MockRefund.objects.count() == 1
    assert MockRefund.objects.get().amount == int(Decimal(amount) * 100)
    assert Refund.objects.filter(state=RefundState.SUCCEEDED).count() == 1
    assert sum(refund_entries(order)) == -Decimal(amount)


def test_crash_before_the_refund_call_is_sent_by_reconcile(gql, operator, paid, monkeypatch):
    crash_around(monkeypatch, "refund_payment", after=False)
    assert top_level_codes(refund(gql, paid, operator, "100.00")) == ["INTERNAL_SERVER_ERROR"]
    assert Refund.objects.get().state == RefundState.PENDING
    assert not MockRefund.objects.exists()
    # The pending refund counts against what is left to refund.
    too_much = refund(gql, paid, operator, "414.01")["data"]["orderRefund"]
    assert too_much["errors"] == [{"field": "amount", "code": "REFUND_TOO_LARGE"}]
    reconcile()
    wait_for_deliveries()
    assert_refunded_once(paid, "100.00")


def test_crash_after_the_gateway_refunded_is_settled_by_the_webhook(
    gql, operator, paid, monkeypatch
):
    crash_around(monkeypatch, "refund_payment", after=True)
    assert top_level_codes(refund(gql, paid, operator, "100.00")) == ["INTERNAL_SERVER_ERROR"]
    wait_for_deliveries()
    assert_refunded_once(paid, "100.00")
    assert Refund.objects.get().created_by == operator  # our refund, not a gateway one
    reconcile()
    assert_refunded_once(paid, "100.00")


@pytest.mark.usefixtures("no_webhooks")
def test_crash_after_the_gateway_refunded_is_settled_by_reconcile_without_refunding_again(
    gql, operator, paid, monkeypatch
):
    crash_around(monkeypatch, "refund_payment", after=True)
    assert top_level_codes(refund(gql, paid, operator, "100.00")) == ["INTERNAL_SERVER_ERROR"]
    reconcile()
    assert_refunded_once(paid, "100.00")
    reconcile()
    assert_refunded_once(paid, "100.00")


def test_refund_refused_by_the_gateway_is_failed_and_changes_nothing(
    gql, operator, paid, monkeypatch
):
    def refused(**kwargs):
        raise gateway.GatewayError("Charge already refunded.", code="ALREADY_REFUNDED")

    monkeypatch.setattr(gateway, "refund_payment", refused)
    payload = refund(gql, paid, operator, "100.00")["data"]["orderRefund"]
    assert payload["errors"] == [{"field": None, "code": "GATEWAY_ERROR"}]
    assert Refund.objects.get().state == RefundState.FAILED
    assert Order.objects.get().refunded_amount == 0
    assert refund_entries(paid) == []


# --- refunds made at the gateway (an operator in the Stripe dashboard) ---------------------


def refund_at_the_gateway(order, amount: str) -> None:
    """What an operator does in the Stripe dashboard: a refund made at the gateway itself."""
    gateway.refund_payment(
        payment_intent_id=Payment.objects.get(order=order).gateway_intent_id,
        amount=Decimal(amount),
        idempotency_key=f"dashboard-{order.pk}-{amount}",
    )


def test_refund_at_the_gateway_is_booked_once_from_its_webhooks(gql, operator, paid):
    refund_at_the_gateway(paid, "100.00")
    wait_for_deliveries()
    assert_refunded_once(paid, "100.00")
    assert paid.payment_status == PaymentStatus.PARTIALLY_REFUNDED
    booked = Refund.objects.get()
    assert (booked.created_by, booked.reason) == (None, payments.GATEWAY_REFUND_REASON)
    assert booked.gateway_refund_id == MockRefund.objects.get().id
    # Replayed events (both charge.refunded and refund.created, again) change nothing.
    from shop.payments.mock.delivery import deliver_event
    from shop.payments.mock.models import MockEvent

    for event in MockEvent.objects.filter(type__in=["charge.refunded", "refund.created"]):
        assert deliver_event(event).status == 200
    assert_refunded_once(paid, "100.00")


def test_order_refund_of_the_rest_after_a_gateway_refund(gql, operator, paid):
    refund_at_the_gateway(paid, "100.00")
    wait_for_deliveries()
    too_much = refund(gql, paid, operator, "414.01")["data"]["orderRefund"]
    assert too_much["errors"] == [{"field": "amount", "code": "REFUND_TOO_LARGE"}]
    rest = refund(gql, paid, operator, "414.00")["data"]["orderRefund"]
    assert rest["errors"] == []
    assert rest["order"] == {"paymentStatus": "REFUNDED", "refundedAmount": {"amount": "514.00"}}
    wait_for_deliveries()
    assert MockRefund.objects.count() == 2
    assert Refund.objects.filter(state=RefundState.SUCCEEDED).count() == 2
    assert sum(order_entries(paid)) == 0


@pytest.mark.usefixtures("no_webhooks")
def test_refund_at_the_gateway_is_booked_once_by_reconcile(paid):
    refund_at_the_gateway(paid, "514.00")
    wait_for_deliveries()
    assert Refund.objects.count() == 0  # no webhook reached us
    reconcile()
    assert_refunded_once(paid, "514.00")
    assert paid.payment_status == PaymentStatus.REFUNDED
    reconcile()
    assert_refunded_once(paid, "514.00")
