"""The mock's HTTP API under /stripe-mock/v1/, as the official SDK uses Stripe's: secret-key
auth, form-encoded parameters, idempotency keys, JSON objects and Stripe-shaped errors.
The rules themselves are in services; this module only translates HTTP."""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from shop.payments.mock import selectors, services
from shop.payments.mock.errors import IDEMPOTENCY_ERROR, INVALID_REQUEST, StripeApiError
from shop.payments.mock.events import ApiRequest, api_request
from shop.payments.mock.ids import new_id
from shop.payments.mock.models import CaptureMethod, MockIdempotencyKey
from shop.payments.mock.objects import payment_intent_object, refund_object
from shop.payments.mock.params import Params, decode

CURRENCIES = ["cny"]
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_LENGTH = 255

Result = tuple[int, dict[str, Any]]
Handler = Callable[..., Result]


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2)


def _key_hint(key: str) -> str:
    """Stripe's redaction of a wrong key in its error message: `sk_test_********1234`."""
    prefix = "_".join(key.split("_")[:2]) + "_" if key.count("_") >= 2 else ""
    return prefix + "*" * max(len(key) - len(prefix) - 4, 0) + key[-4:]


SECRET, PUBLISHABLE = "secret", "publishable"


def _authenticate(request: HttpRequest) -> str:
    """Which key the request carries: SECRET or PUBLISHABLE (refused unless the endpoint
    allows it, and then only with the payment intent's client secret)."""
    header = request.headers.get("Authorization", "")
    key = ""
    if header.startswith("Bearer "):
        key = header.removeprefix("Bearer ").strip()
    elif header.startswith("Basic "):  # curl -u sk_test_...:
        try:
            key = base64.b64decode(header.removeprefix("Basic ")).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeApiError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
            status=401,
        )
    if hmac.compare_digest(key.encode(), settings.STRIPE_SECRET_KEY.encode()):
        return SECRET
    publishable = settings.STRIPE_PUBLISHABLE_KEY
    if publishable and hmac.compare_digest(key.encode(), publishable.encode()):
        return PUBLISHABLE
    raise StripeApiError(f"Invalid API Key provided: {_key_hint(key)}", status=401)


def _check_client_secret(params: Params, intent_id: str, *, required: bool) -> None:
    """With the publishable key, a payment intent is reached only with its client secret (what
    Stripe.js sends from the browser); with the secret key the client secret is optional."""
    secret = params.string("client_secret", required=required)
    if secret is None:
        return
    found = selectors.payment_intent_get(intent_id)
    if not hmac.compare_digest(secret, found.client_secret):
        raise StripeApiError(
            "The client_secret provided does not match the client_secret associated with the "
            "PaymentIntent.",
            param="client_secret",
        )


def _unrecognized(request: HttpRequest) -> StripeApiError:
    return StripeApiError(
        f"Unrecognized request URL ({request.method}: {_stripe_path(request)}). "
        "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        status=404,
        type=INVALID_REQUEST,
    )


def _stripe_path(request: HttpRequest) -> str:
    """The path as Stripe would see it: from `/v1/` on, without our mount point."""
    path = request.path_info
    return path[path.find("/v1/") :] if "/v1/" in path else path


def _request_params(request: HttpRequest) -> dict[str, Any]:
    try:
        if request.method == "POST":
            return decode(request.body.decode("utf-8"))
        return decode(request.META.get("QUERY_STRING", ""))
    except UnicodeDecodeError as error:
        raise StripeApiError("The request body must be UTF-8.") from error


def _claim_key(
    key: str, *, endpoint: str, digest: str, request_id: str
) -> tuple[MockIdempotencyKey, bool]:
    """Insert the key's row (True), or return the row of the request that used it first.

    Runs in the request's transaction: a concurrent request with the same key blocks on the
    unique index until the first one commits, then finds its saved response."""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                row = MockIdempotencyKey.objects.create(
                    key=key, endpoint=endpoint, params_digest=digest, request_id=request_id
                )
            return row, True
        except IntegrityError:
            existing = MockIdempotencyKey.objects.get(key=key)
            if existing.created >= timezone.now() - IDEMPOTENCY_KEY_LIFETIME:
                return existing, False
            existing.delete()  # Stripe forgets keys after 24 hours.
    raise StripeApiError("Could not store the idempotency key; retry.", status=409)


def _idempotency_error(message: str, key: str) -> StripeApiError:
    return StripeApiError(
        f"{message} Try using a key other than '{key}' if you meant to execute a different "
        "request.",
        type=IDEMPOTENCY_ERROR,
    )


def _run_post(
    request: HttpRequest,
    handler: Handler,
    data: dict[str, Any],
    *,
    key: str | None,
    request_id: str,
    url_kwargs: dict[str, Any],
) -> tuple[int, str, MockIdempotencyKey | None]:
    """Run a write in one transaction; with a key, save its response or replay the saved one.
    (status, body, the key's row when the response is a replay)."""
    with transaction.atomic():
        if not key:
            status, body = handler(data, **url_kwargs)
            return status, _dumps(body), None
        if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise StripeApiError(
                f"Idempotency keys can be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters."
            )
        endpoint = f"{request.method} {_stripe_path(request)}"
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        row, claimed = _claim_key(key, endpoint=endpoint, digest=digest, request_id=request_id)
        if not claimed:
            if row.endpoint != endpoint:
                raise _idempotency_error(
                    "Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{row.endpoint}' vs '{endpoint}').",
                    key,
                )
            if row.params_digest != digest:
                raise _idempotency_error(
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    key,
                )
            return row.response_status, row.response_body, row
        status, body = handler(data, **url_kwargs)
        text = _dumps(body)
        MockIdempotencyKey.objects.filter(pk=row.pk).update(
            response_status=status, response_body=text
        )
        return status, text, None


def api_view(
    method: str, *, publishable: bool = False
) -> Callable[[Handler], Callable[..., HttpResponse]]:
    """Wrap `handler(params, **url_kwargs) -> (status, body)` as a Stripe API endpoint. With
    `publishable`, the publishable key is accepted too and the handler is told which key came
    (`publishable=True|False`)."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if not settings.STRIPE_MOCK_ENABLED:
                raise Http404("The Stripe mock is disabled.")
            request_id = new_id("req", 14)
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            replay = None
            try:
                kind = _authenticate(request)
                if request.method != method:
                    raise _unrecognized(request)
                if kind == PUBLISHABLE and not publishable:
                    raise StripeApiError(
                        "This API call cannot be made with a publishable API key. Please use "
                        "a secret API key.",
                        status=401,
                    )
                if publishable:
                    kwargs = {**kwargs, "publishable": kind == PUBLISHABLE}
                data = _request_params(request)
                with api_request(ApiRequest(request_id, key)):
                    if method == "POST":
                        status, text, replay = _run_post(
                            request,
                            handler,
                            data,
                            key=key,
                            request_id=request_id,
                            url_kwargs=kwargs,
                        )
                    else:
                        status, body = handler(data, **kwargs)
                        text = _dumps(body)
            except StripeApiError as error:
                status, text = error.status, _dumps(error.body())
            response = HttpResponse(text, status=status, content_type="application/json")
            response["Request-Id"] = request_id
            response["Stripe-Version"] = request.headers.get("Stripe-Version", stripe.api_version)
            if key:
                response["Idempotency-Key"] = key
            if replay is not None:
                response["Idempotent-Replayed"] = "true"
                response["Original-Request"] = replay.request_id
            return response

        return view

    return decorate


def _intent_result(outcome: services.Outcome, expand: set[str]) -> Result:
    if outcome.card_error is not None:
        return 402, {"error": outcome.card_error}
    return 200, payment_intent_object(outcome.intent, expand=expand)


def _currency(params: Params) -> str:
    currency = (params.string("currency", required=True) or "").lower()
    if currency not in CURRENCIES:
        raise StripeApiError(
            f"Invalid currency: {currency}. The mock supports: {', '.join(CURRENCIES)}.",
            param="currency",
        )
    return currency


EXPANDABLE_INTENT = {"latest_charge"}


@api_view("POST")
def payment_intent_create(data: dict[str, Any]) -> Result:
    params = Params(
        data,
        allowed={
            "amount",
            "currency",
            "capture_method",
            "confirm",
            "payment_method",
            "payment_method_types",
            "description",
            "metadata",
            "expand",
        },
    )
    expand = params.expand(expandable=EXPANDABLE_INTENT)
    for method_type in params.string_list("payment_method_types"):
        if method_type != "card":
            raise StripeApiError(
                f'The payment method type "{method_type}" is invalid. The mock supports: card.',
                param="payment_method_types",
            )
    outcome = services.payment_intent_create(
        amount=params.amount("amount", required=True),
        currency=_currency(params),
        capture_method=params.string("capture_method", choices=CaptureMethod.values)
        or CaptureMethod.AUTOMATIC_ASYNC,
        payment_method=params.string("payment_method"),
        description=params.string("description") or "",
        metadata=params.metadata(),
        confirm=params.boolean("confirm"),
    )
    return _intent_result(outcome, expand)


@api_view("GET", publishable=True)
def payment_intent_retrieve(data: dict[str, Any], intent: str, publishable: bool) -> Result:
    params = Params(data, allowed={"client_secret", "expand"})
    expand = params.expand(expandable=EXPANDABLE_INTENT)
    _check_client_secret(params, intent, required=publishable)
    return 200, payment_intent_object(selectors.payment_intent_get(intent), expand=expand)


@api_view("POST", publishable=True)
def payment_intent_confirm(data: dict[str, Any], intent: str, publishable: bool) -> Result:
    """Confirm with the secret key (our server), or as Stripe.js does from a browser: the
    publishable key plus the intent's `client_secret`, nothing else."""
    params = Params(data, allowed={"payment_method", "expand", "client_secret"})
    expand = params.expand(expandable=EXPANDABLE_INTENT)
    _check_client_secret(params, intent, required=publishable)
    outcome = services.payment_intent_confirm(
        intent_id=intent, payment_method=params.string("payment_method")
    )
    return _intent_result(outcome, expand)


@api_view("POST")
def payment_intent_capture(data: dict[str, Any], intent: str) -> Result:
    params = Params(data, allowed={"amount_to_capture", "expand"})
    expand = params.expand(expandable=EXPANDABLE_INTENT)
    outcome = services.payment_intent_capture(
        intent_id=intent, amount_to_capture=params.amount("amount_to_capture")
    )
    return _intent_result(outcome, expand)


@api_view("POST")
def payment_intent_cancel(data: dict[str, Any], intent: str) -> Result:
    params = Params(data, allowed={"cancellation_reason", "expand"})
    expand = params.expand(expandable=EXPANDABLE_INTENT)
    outcome = services.payment_intent_cancel(
        intent_id=intent,
        cancellation_reason=params.string(
            "cancellation_reason", choices=services.CANCELLATION_REASONS
        ),
    )
    return _intent_result(outcome, expand)


@api_view("POST")
def refund_create(data: dict[str, Any]) -> Result:
    params = Params(data, allowed={"payment_intent", "charge", "amount", "reason", "metadata"})
    refund = services.refund_create(
        payment_intent_id=params.string("payment_intent"),
        charge_id=params.string("charge"),
        amount=params.amount("amount"),
        reason=params.string("reason", choices=services.REFUND_REASONS),
        metadata=params.metadata(),
    )
    return 200, refund_object(refund)


@api_view("GET")
def refund_list(data: dict[str, Any]) -> Result:
    """`GET /v1/refunds?payment_intent=…`: newest first, as Stripe lists; at most `limit`
    (1–100, default 10)."""
    params = Params(data, allowed={"payment_intent", "limit"})
    limit = params.amount("limit") or 10
    if not 1 <= limit <= 100:
        raise StripeApiError("Invalid limit: must be between 1 and 100.", param="limit")
    refunds = selectors.refunds_of(params.string("payment_intent"))
    page = [refund_object(refund) for refund in refunds[: limit + 1]]
    return 200, {
        "object": "list",
        "data": page[:limit],
        "has_more": len(page) > limit,
        "url": "/v1/refunds",
    }


@csrf_exempt
def refunds(request: HttpRequest) -> HttpResponse:
    """/v1/refunds: GET lists, POST creates (as Stripe routes one URL by method)."""
    return (refund_list if request.method == "GET" else refund_create)(request)


@api_view("GET")
def refund_retrieve(data: dict[str, Any], refund: str) -> Result:
    Params(data, allowed=set())
    return 200, refund_object(selectors.refund_get(refund))


@api_view("GET")
def event_retrieve(data: dict[str, Any], event: str) -> Result:
    Params(data, allowed=set())
    return 200, json.loads(selectors.event_get(event).payload)


@csrf_exempt
def unrecognized(request: HttpRequest, path: str = "") -> HttpResponse:
    """Anything else under /stripe-mock/: Stripe's answer to an unknown URL or method."""

    @api_view(request.method or "GET")
    def answer(data: dict[str, Any]) -> Result:
        raise _unrecognized(request)

    return answer(request)
