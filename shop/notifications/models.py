"""Outbound notifications: the webhook endpoints organisations register, the events published
to them and one delivery row per event and endpoint (its attempts, outcome and next try), and
each user's choice of e-mails. The owner is named by string foreign keys (as `User` does), so
this low-level app imports neither the catalog nor procurement: they publish into it."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    """A URL an organisation wants events POSTed to, signed with its secret. Owned by one
    supplier or one agency, or by neither: a platform endpoint (operators) hears every event."""

    supplier = models.ForeignKey(
        "catalog.Supplier",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    agency = models.ForeignKey(
        "procurement.Agency",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=80)
    # event type names on the wire ("order.placed"); an endpoint hears only these
    event_types = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(supplier__isnull=False) & Q(agency__isnull=False)),
                name="webhook_endpoint_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.url


class OutboundEvent(models.Model):
    """Something that happened, as sent: `payload` is the exact JSON body every endpoint gets.
    Recorded in the transaction of the change it reports, so a rolled-back change sends
    nothing and a committed one is never lost."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=64, db_index=True)
    payload = models.TextField()
    # the organisations it concerns, as ["supplier", 3] pairs (the delivery log's audience)
    organisations = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "waiting or retrying"
    SUCCEEDED = "SUCCEEDED", "delivered (2xx)"
    FAILED = "FAILED", "given up after the last attempt"


class WebhookDelivery(models.Model):
    """One event to one endpoint. A worker claims a due row (attempts + 1, next try pushed to
    the back-off) in a short transaction, POSTs with no transaction open, then records the
    outcome: a worker killed in between leaves the row to be tried again at its next time."""

    event = models.ForeignKey(OutboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id}: {self.status}"


class EmailPreference(models.Model):
    """The event types a user wants e-mails about; a user without a row gets all of them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="email_preference",
    )
    event_types = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {', '.join(self.event_types) or 'none'}"
