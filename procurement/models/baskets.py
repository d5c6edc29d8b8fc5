"""Spreadsheet baskets: an uploaded file and its preview, one line per row
(docs/spreadsheet-baskets.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class BasketUpload(models.Model):
    """A basket uploaded as a spreadsheet by an agency's buyer: its preview is its lines. It is
    checked out at most once (`checkout`), and only when no line has an error."""

    agency = models.ForeignKey(
        "procurement.Agency", on_delete=models.PROTECT, related_name="basket_uploads"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)  # CSV or XLSX
    sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField()
    error_count = models.PositiveIntegerField()
    total = models.DecimalField(
        max_digits=16, decimal_places=2, help_text="The valid lines at preview prices."
    )
    checkout = models.OneToOneField(
        "procurement.Checkout",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="basket_upload",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.agency_id} {self.file_name}"


class BasketPreviewLine(models.Model):
    """One row of the file: resolved to a variant and priced, or refused with the reason."""

    upload = models.ForeignKey(BasketUpload, on_delete=models.CASCADE, related_name="lines")
    row_number = models.PositiveIntegerField(help_text="The row as the spreadsheet numbers it.")
    sku = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    delivery_address = models.CharField(max_length=255, blank=True)
    variant = models.ForeignKey(
        "catalog.ProductVariant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product_name = models.CharField(max_length=128, blank=True)
    spec = models.CharField(max_length=64, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    line_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_field = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["upload_id", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "row_number"], name="one_line_per_row"),
            # A line is priced or refused, never both.
            models.CheckConstraint(
                condition=Q(error_code="", variant__isnull=False, line_total__isnull=False)
                | ~Q(error_code=""),
                name="basket_line_priced_or_refused",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.upload_id} row {self.row_number}"
