"""The gateway through the official SDK against the mock, over real HTTP."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from shop.payments import gateway
from shop.payments.errors import GatewayError, PaymentDeclined
from shop.payments.gateway import CaptureMethod, PaymentIntentStatus
from shop.payments.mock.models import MockPaymentIntent, MockRefund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stripe_mock")]


def new_intent(amount: str = "100.00", *, key: str = "order-SH0001-pay-1", **kwargs):
    return gateway.create_payment_intent(
        amount=Decimal(amount), order_reference="SH0001", idempotency_key=key, **kwargs
    )


def paid_intent(amount: str = "100.00", **kwargs):
    intent = new_intent(amount, **kwargs)
    return gateway.confirm_payment_intent(intent.id, payment_method="pm_card_visa")


def test_created_intent_waits_for_a_payment_method_with_amount_in_cny():
    intent = new_intent("1234.56")
    assert intent.status == PaymentIntentStatus.REQUIRES_PAYMENT_METHOD
    assert intent.amount == Decimal("1234.56")
    assert intent.currency == "CNY"
    assert intent.order_reference == "SH0001"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert MockPaymentIntent.objects.get(pk=intent.id).amount == 123456


def test_confirm_with_visa_charges_at_once():
    intent = paid_intent("1234.56")
    assert intent.status == PaymentIntentStatus.SUCCEEDED
    assert intent.amount_received == Decimal("1234.56")
    assert intent.payment_method == "pm_card_visa"
    assert gateway.retrieve_payment_intent(intent.id) == intent


def test_manual_capture_authorises_then_captures():
    intent = new_intent("88.80", capture_method=CaptureMethod.MANUAL)
    authorised = gateway.confirm_payment_intent(intent.id, payment_method="pm_card_visa")
    assert authorised.status == PaymentIntentStatus.REQUIRES_CAPTURE
    assert authorised.amount_capturable == Decimal("88.80")
    assert authorised.amount_received == Decimal("0.00")
    captured = gateway.capture_payment_intent(intent.id)
    assert captured.status == PaymentIntentStatus.SUCCEEDED
    assert captured.amount_received == Decimal("88.80")
    assert captured.amount_capturable == Decimal("0.00")


def test_declined_card_raises_payment_declined_and_intent_awaits_another_card():
    intent = new_intent()
    with pytest.raises(PaymentDeclined) as declined:
        gateway.confirm_payment_intent(intent.id, payment_method="pm_card_chargeDeclined")
    assert declined.value.code == "PAYMENT_DECLINED"
    assert declined.value.stripe_code == "card_declined"
    assert declined.value.decline_code == "generic_decline"
    assert declined.value.message == "Your card was declined."
    assert declined.value.payment_intent_id == intent.id
    after = gateway.retrieve_payment_intent(intent.id)
    assert after.status == PaymentIntentStatus.REQUIRES_PAYMENT_METHOD
    assert after.payment_method is None
    assert (after.last_error_code, after.last_decline_code) == ("card_declined", "generic_decline")


def test_a_declined_intent_can_be_paid_with_another_card():
    intent = new_intent()
    with pytest.raises(PaymentDeclined):
        gateway.confirm_payment_intent(intent.id, payment_method="pm_card_chargeDeclined")
    paid = gateway.confirm_payment_intent(intent.id, payment_method="pm_card_visa")
    assert paid.status == PaymentIntentStatus.SUCCEEDED
    assert (paid.last_error_code, paid.last_decline_code) == (None, None)


def test_authorised_intent_can_be_cancelled_instead_of_captured():
    intent = new_intent("50.00", capture_method=CaptureMethod.MANUAL)
    gateway.confirm_payment_intent(intent.id, payment_method="pm_card_visa")
    cancelled = gateway.cancel_payment_intent(
        intent.id, reason=gateway.CancellationReason.REQUESTED_BY_CUSTOMER
    )
    assert cancelled.status == PaymentIntentStatus.CANCELED
    assert cancelled.amount_capturable == Decimal("0.00")
    assert cancelled.amount_received == Decimal("0.00")


def test_cancelling_a_paid_intent_is_refused():
    intent = paid_intent()
    with pytest.raises(GatewayError) as refused:
        gateway.cancel_payment_intent(intent.id)
    assert refused.value.code == "INVALID_STATE"
    assert refused.value.stripe_code == "payment_intent_unexpected_state"
    assert gateway.retrieve_payment_intent(intent.id).status == PaymentIntentStatus.SUCCEEDED


def test_capturing_an_automatic_payment_is_refused():
    intent = paid_intent()
    with pytest.raises(GatewayError) as refused:
        gateway.capture_payment_intent(intent.id)
    assert refused.value.code == "INVALID_STATE"


def test_partial_then_full_refund():
    intent = paid_intent("100.00")
    first = gateway.refund_payment(
        payment_intent_id=intent.id,
        amount=Decimal("30.00"),
        idempotency_key="refund-1",
        reason="两箱枸杞破损",
    )
    assert (first.amount, first.status, first.payment_intent_id) == (
        Decimal("30.00"),
        "succeeded",
        intent.id,
    )
    assert first.reason == "两箱枸杞破损"
    assert gateway.retrieve_payment_intent(intent.id).amount_refunded == Decimal("30.00")
    rest = gateway.refund_payment(payment_intent_id=intent.id, amount=None, idempotency_key="r-2")
    assert rest.amount == Decimal("70.00")
    assert gateway.retrieve_payment_intent(intent.id).amount_refunded == Decimal("100.00")


def test_refund_over_what_is_left_is_refused_and_changes_nothing():
    intent = paid_intent("100.00")
    gateway.refund_payment(
        payment_intent_id=intent.id, amount=Decimal("30.00"), idempotency_key="refund-1"
    )
    with pytest.raises(GatewayError) as refused:
        gateway.refund_payment(
            payment_intent_id=intent.id, amount=Decimal("70.01"), idempotency_key="refund-2"
        )
    assert refused.value.code == "AMOUNT_TOO_LARGE"
    assert refused.value.message == (
        "Refund amount (¥70.01) is greater than unrefunded amount on charge (¥70.00)"
    )
    assert MockRefund.objects.count() == 1
    assert gateway.retrieve_payment_intent(intent.id).amount_refunded == Decimal("30.00")


def test_refund_after_a_full_refund_is_refused():
    intent = paid_intent("100.00")
    gateway.refund_payment(payment_intent_id=intent.id, amount=None, idempotency_key="refund-1")
    with pytest.raises(GatewayError) as refused:
        gateway.refund_payment(
            payment_intent_id=intent.id, amount=Decimal("0.01"), idempotency_key="refund-2"
        )
    assert refused.value.code == "ALREADY_REFUNDED"


def test_refund_of_an_unpaid_intent_is_refused():
    intent = new_intent()
    with pytest.raises(GatewayError) as refused:
        gateway.refund_payment(payment_intent_id=intent.id, amount=None, idempotency_key="r-1")
    assert refused.value.code == "INVALID_STATE"
    assert MockRefund.objects.count() == 0


def test_refund_can_be_retrieved():
    intent = paid_intent("100.00")
    refund = gateway.refund_payment(
        payment_intent_id=intent.id, amount=Decimal("12.34"), idempotency_key="refund-1"
    )
    assert gateway.retrieve_refund(refund.id) == refund


def test_retried_create_with_the_same_key_returns_the_same_intent_and_creates_one():
    first = new_intent("100.00", key="order-SH0001-pay-1")
    again = new_intent("100.00", key="order-SH0001-pay-1")
    assert again.id == first.id
    assert MockPaymentIntent.objects.count() == 1


def test_same_key_with_another_amount_is_an_idempotency_conflict():
    new_intent("100.00", key="order-SH0001-pay-1")
    with pytest.raises(GatewayError) as conflict:
        new_intent("100.01", key="order-SH0001-pay-1")
    assert conflict.value.code == "IDEMPOTENCY_CONFLICT"
    assert MockPaymentIntent.objects.count() == 1


def test_retried_refund_with_the_same_key_refunds_once():
    intent = paid_intent("100.00")
    first = gateway.refund_payment(
        payment_intent_id=intent.id, amount=Decimal("30.00"), idempotency_key="refund-1"
    )
    again = gateway.refund_payment(
        payment_intent_id=intent.id, amount=Decimal("30.00"), idempotency_key="refund-1"
    )
    assert again == first
    assert MockRefund.objects.count() == 1
    assert gateway.retrieve_payment_intent(intent.id).amount_refunded == Decimal("30.00")


def test_unknown_intent_is_not_found():
    with pytest.raises(GatewayError) as missing:
        gateway.retrieve_payment_intent("pi_doesnotexist")
    assert missing.value.code == "NOT_FOUND"
    assert missing.value.message == "No such payment_intent: 'pi_doesnotexist'"


def run_together(*calls):
    """Run the calls at the same moment in threads; results or raised exceptions, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except GatewayError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.postgres
def test_concurrent_creates_with_one_key_make_one_intent():
    results = run_together(*[lambda: new_intent("100.00", key="order-SH0001-pay-1")] * 4)
    assert len({result.id for result in results}) == 1
    assert MockPaymentIntent.objects.count() == 1


@pytest.mark.postgres
def test_concurrent_refunds_never_exceed_what_was_captured():
    intent = paid_intent("100.00")

    def refund(key: str):
        return lambda: gateway.refund_payment(
            payment_intent_id=intent.id, amount=Decimal("60.00"), idempotency_key=key
        )

    results = run_together(refund("refund-a"), refund("refund-b"))
    refused = [result for result in results if isinstance(result, GatewayError)]
    assert [error.code for error in refused] == ["AMOUNT_TOO_LARGE"]
    assert MockRefund.objects.count() == 1
    assert gateway.retrieve_payment_intent(intent.id).amount_refunded == Decimal("60.00")
