"""Errors of the payment gateway. They are domain errors, so a mutation that calls the gateway
reports them in its `errors` list; Stripe's own exceptions never leave gateway.py."""

from enum import StrEnum

from shop.core.errors import DomainError


class PaymentErrorCode(StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INVALID_STATE = "INVALID_STATE"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    ALREADY_REFUNDED = "ALREADY_REFUNDED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    GATEWAY_UNAVAILABLE = "GATEWAY_UNAVAILABLE"
    GATEWAY_MISCONFIGURED = "GATEWAY_MISCONFIGURED"


class GatewayError(DomainError):
    """The gateway refused or could not perform a request. `stripe_code` is Stripe's error code
    (e.g. `amount_too_large`), kept for logs and for callers that need the detail."""

    def __init__(
        self,
        message: str,
        *,
        code: PaymentErrorCode = PaymentErrorCode.INVALID,
        stripe_code: str | None = None,
        field: str | None = None,
    ):
        super().__init__(message, code=code, field=field)
        self.stripe_code = stripe_code


class PaymentDeclined(GatewayError):
    """The card was declined; the payment intent waits for another payment method."""

    def __init__(
        self,
        message: str,
        *,
        decline_code: str | None,
        stripe_code: str | None,
        payment_intent_id: str | None,
    ):
        super().__init__(message, code=PaymentErrorCode.PAYMENT_DECLINED, stripe_code=stripe_code)
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
