"""State of the Stripe-compatible mock. It lives in database tables rather than in memory so
that several app processes serving the mock agree on every payment intent and idempotency key.

Amounts are integers in the currency's smallest unit (fen), as in Stripe's API."""

from django.db import models
from django.utils import timezone


class PaymentIntentStatus(models.TextChoices):
    # The subset of Stripe's statuses that card payments without 3-D Secure go through.
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class CaptureMethod(models.TextChoices):
    AUTOMATIC = "automatic"
    # Stripe's default for new integrations; for cards it behaves like `automatic`.
    AUTOMATIC_ASYNC = "automatic_async"
    MANUAL = "manual"


class ChargeStatus(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MockPaymentIntent(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=PaymentIntentStatus.choices)
    capture_method = models.CharField(max_length=16, choices=CaptureMethod.choices)
    client_secret = models.CharField(max_length=128)
    # Empty while no payment method is attached (Stripe shows null).
    payment_method = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    amount_capturable = models.PositiveBigIntegerField(default=0)
    amount_received = models.PositiveBigIntegerField(default=0)
    last_payment_error = models.JSONField(null=True, blank=True)
    latest_charge = models.ForeignKey(
        "MockCharge", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancellation_reason = models.CharField(max_length=32, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class MockCharge(models.Model):
    """One confirmation attempt of a payment intent, successful or declined."""

    id = models.CharField(primary_key=True, max_length=64)
    payment_intent = models.ForeignKey(
        MockPaymentIntent, on_delete=models.CASCADE, related_name="charges"
    )
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=ChargeStatus.choices)
    payment_method = models.CharField(max_length=64)
    captured = models.BooleanField(default=False)
    amount_captured = models.PositiveBigIntegerField(default=0)
    # Only real refunds; the uncaptured rest of a partial capture is not counted here.
    amount_refunded = models.PositiveBigIntegerField(default=0)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    decline_code = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class MockRefund(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    charge = models.ForeignKey(MockCharge, on_delete=models.CASCADE, related_name="refunds")
    payment_intent = models.ForeignKey(
        MockPaymentIntent, on_delete=models.CASCADE, related_name="refunds"
    )
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    # Card refunds in test mode succeed at once.
    status = models.CharField(max_length=16, default="succeeded")
    reason = models.CharField(max_length=32, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.id} {self.amount}"


class MockEvent(models.Model):
    """An event as Stripe would send it, and the state of its delivery to the webhook URL.

    `payload` is the exact JSON body, fixed when the event happens (a snapshot of the object,
    as in Stripe); each delivery attempt signs it afresh with the current time."""

    id = models.CharField(primary_key=True, max_length=64)
    type = models.CharField(max_length=64, db_index=True)
    payload = models.TextField()
    created = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivery_attempts = models.PositiveIntegerField(default=0)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class MockIdempotencyKey(models.Model):
    """The saved outcome of the first POST made with a key; a retry gets it back verbatim."""

    key = models.CharField(max_length=255, unique=True)
    endpoint = models.CharField(max_length=255)
    params_digest = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    request_id = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key} {self.endpoint}"
