"""Complaints of agencies about their orders, decided by operators."""

from django.conf import settings
from django.db import models

from procurement.models.agencies import Agency
from procurement.models.orders import Order


class ComplaintKind(models.TextChoices):
    QUALITY = "QUALITY", "质量问题"
    DELIVERY = "DELIVERY", "配送问题"
    QUANTITY = "QUANTITY", "数量不符"
    OTHER = "OTHER", "其他"


class ComplaintStatus(models.TextChoices):
    OPEN = "OPEN", "待处理"
    UPHELD = "UPHELD", "成立"
    DISMISSED = "DISMISSED", "不成立"


class Complaint(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="complaints")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="complaints")
    supplier = models.ForeignKey(
        "catalog.Supplier", on_delete=models.PROTECT, related_name="complaints"
    )
    kind = models.CharField(max_length=16, choices=ComplaintKind.choices)
    description = models.TextField()
    status = models.CharField(
        max_length=16, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN
    )
    resolution_note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["supplier", "status", "kind", "resolved_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.status}"
