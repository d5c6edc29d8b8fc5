"""The mock's HTTP API as Stripe defines it: auth, errors, idempotency keys, parameters."""

import pytest
import stripe
from django.test import Client

from shop.payments.mock.models import MockCharge, MockPaymentIntent
from shop.payments.mock.params import decode

SECRET_KEY = "sk_test_shanhai_mock"


def api(
    method: str,
    path: str,
    body: str = "",
    *,
    key: str | None = SECRET_KEY,
    idempotency_key: str | None = None,
):
    headers = {}
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return Client().generic(
        method,
        f"/stripe-mock/v1/{path}",
        body,
        content_type="application/x-www-form-urlencoded",
        **headers,
    )


def sdk(live_server, key: str = SECRET_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": f"{live_server.url}/stripe-mock"})


@pytest.mark.django_db(transaction=True)
def test_wrong_api_key_is_an_authentication_error_and_creates_nothing(stripe_mock):
    client = sdk(stripe_mock, key="sk_test_wrong_key_1234")
    with pytest.raises(stripe.AuthenticationError) as refused:
        client.v1.payment_intents.create({"amount": 1000, "currency": "cny"})
    assert refused.value.http_status == 401
    assert refused.value.user_message == "Invalid API Key provided: sk_test_**********1234"
    assert MockPaymentIntent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sdk_reads_the_mock_card_error(stripe_mock):
    client = sdk(stripe_mock)
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            {
                "amount": 1000,
                "currency": "cny",
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
            }
        )
    error = declined.value
    assert (error.http_status, error.code) == (402, "card_declined")
    assert error.error.type == "card_error"
    assert error.error.decline_code == "generic_decline"
    assert error.error.charge == MockCharge.objects.get().id
    assert error.error.payment_intent.status == "requires_payment_method"


@pytest.mark.django_db(transaction=True)
def test_sdk_expands_the_latest_charge(stripe_mock):
    client = sdk(stripe_mock)
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "cny",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "expand": ["latest_charge"],
        }
    )
    assert isinstance(intent, stripe.PaymentIntent)
    assert isinstance(intent.latest_charge, stripe.Charge)
    assert (intent.latest_charge.amount_captured, intent.latest_charge.status) == (
        1000,
        "succeeded",
    )


@pytest.mark.django_db
def test_missing_api_key_is_refused():
    response = api("POST", "payment_intents", "amount=1000&currency=cny", key=None)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["message"].startswith("You did not provide an API key.")


@pytest.mark.django_db
def test_replayed_request_gets_the_saved_response_verbatim():
    first = api("POST", "payment_intents", "amount=1000&currency=cny", idempotency_key="k-1")
    again = api("POST", "payment_intents", "currency=cny&amount=1000", idempotency_key="k-1")
    assert again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again["Original-Request"] == first["Request-Id"]
    assert MockPaymentIntent.objects.count() == 1


@pytest.mark.django_db
def test_same_key_on_another_endpoint_is_an_idempotency_error():
    created = api("POST", "payment_intents", "amount=1000&currency=cny", idempotency_key="k-1")
    intent_id = created.json()["id"]
    response = api("POST", f"payment_intents/{intent_id}/cancel", "", idempotency_key="k-1")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"
    assert response.json()["error"]["message"] == (
        "Keys for idempotent requests can only be used for the same endpoint they were first "
        f"used for ('POST /v1/payment_intents' vs 'POST /v1/payment_intents/{intent_id}/cancel')."
        " Try using a key other than 'k-1' if you meant to execute a different request."
    )


@pytest.mark.django_db
def test_a_declined_confirmation_is_replayed_as_the_same_decline():
    intent_id = api("POST", "payment_intents", "amount=1000&currency=cny").json()["id"]
    path, body = f"payment_intents/{intent_id}/confirm", "payment_method=pm_card_chargeDeclined"
    first = api("POST", path, body, idempotency_key="confirm-1")
    again = api("POST", path, body, idempotency_key="confirm-1")
    assert (first.status_code, again.status_code) == (402, 402)
    assert again.content == first.content
    assert MockCharge.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_request_is_not_saved_under_its_key():
    refused = api("POST", "payment_intents", "amount=1000", idempotency_key="k-1")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "parameter_missing"
    retried = api("POST", "payment_intents", "amount=1000&currency=cny", idempotency_key="k-1")
    assert retried.status_code == 200
    assert retried.json()["status"] == "requires_payment_method"


@pytest.mark.django_db
def test_unknown_parameter_is_refused_in_stripe_error_shape():
    response = api("POST", "payment_intents", "amount=1000&currency=cny&colour=red")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_unknown",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
            "param": "colour",
            "message": "Received unknown parameter: colour",
        }
    }


@pytest.mark.django_db
def test_unrecognized_url_is_a_stripe_404():
    response = api("GET", "customers")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/customers)."
    )


@pytest.mark.django_db
def test_disabled_mock_is_not_served(settings):
    settings.STRIPE_MOCK_ENABLED = False
    response = api("POST", "payment_intents", "amount=1000&currency=cny")
    assert response.status_code == 404
    assert MockPaymentIntent.objects.count() == 0


@pytest.mark.django_db
def test_intent_object_has_stripe_fields():
    response = api("POST", "payment_intents", "amount=1000&currency=cny&metadata[order]=SH1")
    intent = response.json()
    assert {key: intent[key] for key in ("object", "amount", "currency", "status")} == {
        "object": "payment_intent",
        "amount": 1000,
        "currency": "cny",
        "status": "requires_payment_method",
    }
    assert intent["metadata"] == {"order": "SH1"}
    assert intent["capture_method"] == "automatic_async"
    assert intent["latest_charge"] is None
    assert intent["client_secret"].startswith(f"{intent['id']}_secret_")


def test_form_parameters_decode_into_nested_objects_and_lists():
    assert decode("a=1&metadata[order]=SH1&expand[0]=latest_charge&expand[1]=x&items[]=p&e=") == {
        "a": "1",
        "metadata": {"order": "SH1"},
        "expand": ["latest_charge", "x"],
        "items": ["p"],
        "e": "",
    }
