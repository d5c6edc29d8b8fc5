"""Payments of orders, their refunds and the reminders of payments due."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from procurement.models.orders import Order


class PaymentMethod(models.TextChoices):
    CARD = "CARD", "银行卡"
    BANK_TRANSFER = "BANK_TRANSFER", "对公转账"


class PaymentState(models.TextChoices):
    PENDING = "PENDING", "待支付"
    SUCCEEDED = "SUCCEEDED", "已支付"
    FAILED = "FAILED", "失败"
    CANCELLED = "CANCELLED", "已取消"


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    state = models.CharField(
        max_length=16, choices=PaymentState.choices, default=PaymentState.PENDING
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    gateway_intent_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Sent with the gateway's create call: a retry after a crash finds the same intent.
    idempotency_key = models.CharField(max_length=64, blank=True)
    client_secret = models.CharField(max_length=128, blank=True)
    transfer_reference = models.CharField(max_length=64, blank=True)
    failure_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.method} {self.amount}"


class RefundState(models.TextChoices):
    # Recorded, the gateway not yet known to have refunded: counts against what is left to
    # refund, not in the order's refunded amount.
    PENDING = "PENDING", "处理中"
    SUCCEEDED = "SUCCEEDED", "已退款"
    FAILED = "FAILED", "失败"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.TextField()
    state = models.CharField(
        max_length=16, choices=RefundState.choices, default=RefundState.SUCCEEDED
    )
    gateway_refund_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True)
    failure_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive"),
            # A gateway refund is booked once, whichever path (our call, webhook, reconcile)
            # sees it first.
            models.UniqueConstraint(
                fields=["gateway_refund_id"],
                condition=~Q(gateway_refund_id=""),
                name="refund_gateway_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} -{self.amount}"


class PaymentReminderKind(models.TextChoices):
    BEFORE_DUE = "BEFORE_DUE", "即将到期"
    ON_DUE = "ON_DUE", "已到期"
    OVERDUE = "OVERDUE", "已逾期"


class PaymentReminder(models.Model):
    """A payment reminder that was sent: one per order, kind and due date, so running the
    reminder job again sends nothing twice."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payment_reminders")
    kind = models.CharField(max_length=16, choices=PaymentReminderKind.choices)
    due_date = models.DateField()
    sent_on = models.DateField(help_text="The business date (Asia/Shanghai) it was sent.")
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind", "due_date"], name="one_payment_reminder_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.due_date}"
