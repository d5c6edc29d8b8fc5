"""Confirming a card payment in the browser, as Stripe.js does: plain HTTP to the gateway with
only the publishable key (from `paymentConfig`) and the payment's client secret."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.conf import settings

from procurement.models import ContributionEntry, Payment, PaymentState, PaymentStatus
from shop.payments.mock.delivery import wait_for_deliveries
from shop.payments.mock.models import MockCharge, MockPaymentIntent, MockRefund
from tests.procurement.test_payments import oid

pytestmark = pytest.mark.usefixtures("stripe_mock")

START = """mutation($id: ID!) { paymentCreate(orderId: $id, method: CARD) {
  payment { status clientSecret } errors { code } } }"""
CONFIG = "{ paymentConfig { publishableKey apiBase currency } }"


def browser(method: str, url: str, *, key: str, form: dict | None = None) -> tuple[int, dict]:
    """One request as a browser sends it: nothing but the publishable key for auth."""
    data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
    request = urllib.request.Request(  # noqa: S310 - the live test server
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture
def started(gql, accepted):
    """The agency started a card payment on our server; the browser got the client secret."""
    order, user = accepted
    payload = gql(START, {"id": oid(order)}, user=user)["data"]["paymentCreate"]
    assert payload["errors"] == []
    config = gql(CONFIG)["data"]["paymentConfig"]  # anonymous: nothing secret in it
    secret = payload["payment"]["clientSecret"]
    intent_id = secret.split("_secret_")[0]
    confirm_url = f"{config['apiBase']}/v1/payment_intents/{intent_id}/confirm"
    return order, config, secret, confirm_url


def test_payment_config_gives_the_publishable_key_and_where_to_confirm(gql):
    config = gql(CONFIG)["data"]["paymentConfig"]
    assert config == {
        "publishableKey": "pk_test_shanhai_mock",
        "apiBase": settings.STRIPE_API_BASE,
        "currency": "CNY",
    }


def test_browser_confirms_with_publishable_key_and_client_secret_and_the_webhook_settles(
    started,
):
    order, config, secret, confirm_url = started
    status, intent = browser(
        "POST",
        confirm_url,
        key=config["publishableKey"],
        form={"client_secret": secret, "payment_method": "pm_card_visa"},
    )
    assert (status, intent["status"]) == (200, "succeeded")
    wait_for_deliveries()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID
    assert Payment.objects.get().state == PaymentState.SUCCEEDED
    assert ContributionEntry.objects.filter(order=order).count() == 1


def test_browser_can_read_its_intent_with_the_client_secret(started):
    _order, config, secret, confirm_url = started
    url = f"{confirm_url.removesuffix('/confirm')}?client_secret={secret}"
    status, intent = browser("GET", url, key=config["publishableKey"])
    assert (status, intent["status"]) == (200, "requires_payment_method")


@pytest.mark.parametrize("client_secret", [None, "pi_other_secret_wrong"])
def test_publishable_key_without_the_right_client_secret_confirms_nothing(started, client_secret):
    order, config, _secret, confirm_url = started
    form = {"payment_method": "pm_card_visa"}
    if client_secret:
        form["client_secret"] = client_secret
    status, body = browser("POST", confirm_url, key=config["publishableKey"], form=form)
    assert status == 400
    assert body["error"]["param"] == "client_secret"
    assert MockPaymentIntent.objects.get().status == "requires_payment_method"
    assert not MockCharge.objects.exists()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.UNPAID


def test_publishable_key_cannot_refund_or_create(started):
    _order, config, _secret, _url = started
    base = config["apiBase"]
    key = config["publishableKey"]
    intent = MockPaymentIntent.objects.get()
    status, body = browser(
        "POST", f"{base}/v1/refunds", key=key, form={"payment_intent": intent.id}
    )
    assert status == 401
    assert "publishable API key" in body["error"]["message"]
    status, _body = browser(
        "POST", f"{base}/v1/payment_intents", key=key, form={"amount": 100, "currency": "cny"}
    )
    assert status == 401
    assert not MockRefund.objects.exists()
    assert MockPaymentIntent.objects.count() == 1
