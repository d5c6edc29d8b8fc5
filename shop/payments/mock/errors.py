"""Errors of the mock, in Stripe's shape: `{"error": {"type", "code", "message", "param", ...}}`.

The HTTP status matters as much as the body: the SDK picks its exception class from it
(400/404 InvalidRequestError or IdempotencyError, 401 AuthenticationError, 402 CardError)."""

from typing import Any

INVALID_REQUEST = "invalid_request_error"
CARD_ERROR = "card_error"
IDEMPOTENCY_ERROR = "idempotency_error"


def doc_url(code: str) -> str:
    return f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"


class StripeApiError(Exception):
    """Raised by the mock before it changes anything; the request's transaction is rolled back
    and, as in Stripe, no idempotent result is saved, so the same key may be retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = doc_url(self.code)
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def parameter_missing(param: str) -> StripeApiError:
    return StripeApiError(
        f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def parameter_unknown(param: str) -> StripeApiError:
    return StripeApiError(
        f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def resource_missing(kind: str, object_id: str, *, param: str) -> StripeApiError:
    return StripeApiError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


def unexpected_state(
    intent: dict[str, Any], *, action: str, done: str, allowed: list[str]
) -> StripeApiError:
    """`intent` is the rendered payment intent: Stripe returns it inside the error."""
    return StripeApiError(
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}. "
        f"Only a PaymentIntent with one of the following statuses may be {done}: "
        f"{', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
        extra={"payment_intent": intent},
    )
