"""Approval and budgets (docs/approvals.md): purchase requests awaiting an approver and annual
budgets (optionally per budget line). Who in an agency may buy and approve is on its
membership row (AgencyMembership)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AgencyBudget(models.Model):
    """An agency's budget for a calendar year (Asia/Shanghai): for the whole agency when `line`
    is empty, else for one budget line (预算科目) within it. Committed and pending amounts are
    computed from the orders and purchase requests, never stored (so a cancelled order gives
    its amount back by itself)."""

    agency = models.ForeignKey(
        "procurement.Agency", on_delete=models.CASCADE, related_name="budgets"
    )
    year = models.PositiveSmallIntegerField()
    line = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agency_id", "year", "line"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "year", "line"], name="one_budget_per_line"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="budget_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} {self.year} {self.line or '(all)'}"


class PurchaseRequestStatus(models.TextChoices):
    PENDING = "PENDING", "待审批"
    APPROVED = "APPROVED", "已批准"
    DECLINED = "DECLINED", "已驳回"


class PurchaseRequest(models.Model):
    """A basket a buyer submitted for approval. It reserves nothing; approving it checks it
    out (`checkout`), declining it records why."""

    agency = models.ForeignKey(
        "procurement.Agency", on_delete=models.PROTECT, related_name="purchase_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=PurchaseRequestStatus.choices, default=PurchaseRequestStatus.PENDING
    )
    idempotency_key = models.CharField(max_length=128)
    payload_hash = models.CharField(max_length=64)
    # [[variant id, quantity(, own delivery address)], ...] as submitted (repeats are merged
    # at checkout, as a basket's are).
    lines = models.JSONField()
    recipient = models.CharField(max_length=64)
    phone = models.CharField(max_length=32)
    address = models.CharField(max_length=255)
    ship_within_days = models.PositiveSmallIntegerField(default=7)
    budget_line = models.CharField(max_length=64, blank=True)
    # Priced when submitted; approval prices the basket again, as a checkout would.
    total = models.DecimalField(max_digits=16, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    checkout = models.OneToOneField(
        "procurement.Checkout",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_request",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "status", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"], name="one_purchase_request_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"PR{self.pk} {self.status}"
