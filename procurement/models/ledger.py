"""The contribution ledger (统计台账): every counted yuan, append-only, in a Merkle tree whose
signed checkpoints anyone can check (docs/ledger.md, "The transparency log")."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from procurement.errors import ProcurementErrorCode
from shop.core.errors import DomainError


class ContributionKind(models.TextChoices):
    PURCHASE = "PURCHASE", "采购"
    HELPED_SALES = "HELPED_SALES", "帮销"


class ContributionSource(models.TextChoices):
    ORDER = "ORDER", "平台订单"
    REFUND = "REFUND", "退款冲减"
    IMPORT = "IMPORT", "其他渠道导入"
    ADJUSTMENT = "ADJUSTMENT", "调整"


PLATFORM_CHANNEL = "SHANHAI"


class LedgerIsAppendOnly(DomainError):
    def __init__(self):
        super().__init__(
            "Ledger entries are never changed or deleted; book a correcting entry instead.",
            code=ProcurementErrorCode.APPEND_ONLY,
        )


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly()

    def delete(self):
        raise LedgerIsAppendOnly()


class ContributionEntry(models.Model):
    """One counted amount, signed. Its dimensions are snapshots taken when it was booked, so
    later edits to an agency or a product never rewrite history. `hash` is the entry's Merkle
    leaf hash (hex), computed when it is booked; entries booked before the transparency log
    keep their chain hash and `prev_hash` for history (an entry of the log has `prev_hash` "")."""

    position = models.PositiveBigIntegerField(unique=True)
    kind = models.CharField(max_length=16, choices=ContributionKind.choices)
    source = models.CharField(max_length=16, choices=ContributionSource.choices)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    booked_at = models.DateTimeField()
    business_date = models.DateField(help_text="The day it counts in (Asia/Shanghai).")
    # What makes the entry unique: e.g. the order line it books, so nothing is booked twice.
    source_key = models.CharField(max_length=128, unique=True)
    order = models.ForeignKey(
        "procurement.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order_line = models.ForeignKey(
        "procurement.OrderLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund = models.ForeignKey(
        "procurement.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    import_batch = models.ForeignKey(
        "procurement.ContributionImport",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    invoice_number = models.CharField(max_length=32, blank=True)
    seller_credit_code = models.CharField(max_length=18, blank=True)
    reason = models.TextField(blank=True)
    # Dimension snapshots.
    channel = models.CharField(max_length=32, default=PLATFORM_CHANNEL)
    buyer_province = models.CharField(max_length=32)
    agency = models.ForeignKey(
        "procurement.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    agency_name = models.CharField(max_length=128, blank=True)
    agency_type = models.CharField(max_length=24, blank=True)
    agency_city = models.CharField(max_length=32, blank=True)
    supplier = models.ForeignKey(
        "catalog.Supplier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    supplier_name = models.CharField(max_length=128, blank=True)
    origin_province = models.CharField(max_length=32)
    origin_county_code = models.CharField(max_length=12, blank=True)
    origin_county_name = models.CharField(max_length=32, blank=True)
    category = models.CharField(max_length=32, blank=True)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    product_name = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)
    # The leaf encoding the entry was booked with (procurement/transparency/merkle.py
    # LEAF_ENCODINGS), hashed into its leaf: a later encoding never changes an earlier hash.
    leaf_version = models.PositiveSmallIntegerField(default=1, db_default=1)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "contribution entries"
        indexes = [
            models.Index(fields=["business_date"]),
            models.Index(fields=["agency", "business_date"]),
            models.Index(fields=["supplier", "business_date"]),
            models.Index(fields=["order"]),
            models.Index(fields=["seller_credit_code", "invoice_number"]),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsAppendOnly()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly()


class LedgerHead(models.Model):
    """The state of the Merkle tree: its size and how far entries have been sequenced into it.
    Checkpointing holds its lock; bookings do not (they take positions from a PostgreSQL
    sequence; on SQLite, which has none, from `last_position`). `last_hash` is the old chain's
    head, kept for history."""

    last_position = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    tree_size = models.PositiveBigIntegerField(default=0)
    sequenced_position = models.PositiveBigIntegerField(
        default=0, help_text="The highest position sequenced into the tree."
    )

    def __str__(self) -> str:
        return f"tree of {self.tree_size}"


class LedgerTreeNode(models.Model):
    """A stored hash of the Merkle tree: at level 0 an entry's leaf (the tree's order is the
    order entries were sequenced in), at level k the perfect subtree of the 2^k leaves from
    index·2^k. Proofs are read from these rows, never by rehashing the ledger."""

    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.BinaryField(max_length=32)
    entry = models.OneToOneField(
        ContributionEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="leaf"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="one_tree_node"),
        ]

    def __str__(self) -> str:
        return f"{self.level}/{self.index}"


class LedgerCheckpoint(models.Model):
    """A signed statement of the tree's size and root at a time (the signed text is
    `merkle.Checkpoint.signed_text`)."""

    tree_size = models.PositiveBigIntegerField()
    root_hash = models.CharField(max_length=64)
    timestamp = models.CharField(max_length=40, help_text="UTC ISO-8601, exactly as signed.")
    signature = models.CharField(max_length=100, help_text="Ed25519, base64.")
    key_id = models.CharField(max_length=64, help_text="SHA-256 of the raw public key, hex.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["tree_size"])]

    def __str__(self) -> str:
        return f"{self.tree_size} @ {self.timestamp}"


class ContributionImport(models.Model):
    """A CSV of purchases made on other channels, imported by an operator."""

    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField()
    total = models.DecimalField(max_digits=16, decimal_places=2)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class Target(models.Model):
    """A purchasing target: an amount over a period and a scope. Targets are data, so the next
    plan's targets (and yearly or per-city sub-targets) are added, never coded."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    start_date = models.DateField()
    end_date = models.DateField()
    buyer_province = models.CharField(max_length=32, default="福建省")
    origin_province = models.CharField(max_length=32, default="宁夏回族自治区")
    buyer_city = models.CharField(max_length=32, blank=True, help_text="Empty: the whole province.")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_date", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="target_period"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="target_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class RollupPeriod(models.TextChoices):
    MONTH = "MONTH", "月"
    YEAR = "YEAR", "年"


class ContributionRollup(models.Model):
    """Ledger totals by month and by year for one or two dimensions, so reports never sum the
    whole ledger per request: entries reach them through `PendingRollup` and the fold (see
    procurement/reports/rollups.py). `dimensions`
    names the grouping, e.g. "" (everything), "CITY" or "CATEGORY|CITY"; `value1`/`value2` are
    the values, `label1`/`label2` their latest display names. A YEAR cell (its `month` is 1
    January) holds the sum of its twelve MONTH cells, so a summary over whole years reads a
    twelfth of the rows."""

    period = models.CharField(
        max_length=5, choices=RollupPeriod.choices, default=RollupPeriod.MONTH
    )
    month = models.DateField(
        help_text="First day of the period (Asia/Shanghai business date): of the month, or 1 "
        "January for a YEAR cell."
    )
    dimensions = models.CharField(max_length=48)
    value1 = models.CharField(max_length=64, default="")
    value2 = models.CharField(max_length=64, default="")
    label1 = models.CharField(max_length=128, default="")
    label2 = models.CharField(max_length=128, default="")
    total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    entry_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Reports read one grouping and period over a range of months: this index serves them.
            models.UniqueConstraint(
                fields=["dimensions", "period", "month", "value1", "value2"],
                name="one_rollup_cell",
            )
        ]
        indexes = [
            # A summary's page reads its groups in this order and stops after the page (issue
            # 15): 101 groups of agency × supplier, not all 15,000 then sorted.
            models.Index(fields=["dimensions", "period", "value1", "value2"], name="rollup_groups")
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.month:%Y-%m} {self.dimensions} {self.value1} {self.value2}"


class PendingRollup(models.Model):
    """An entry booked but not yet added to its rollup cells. Booking inserts one row per entry
    (an append, so concurrent bookings never wait on the month's shared cells); the fold
    (`rollups.fold`) deletes the rows and adds their entries to the cells in one transaction.
    Reports read the cells and the pending entries in one statement, so they are exact while
    rows wait here."""

    entry = models.OneToOneField(
        ContributionEntry,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="pending_rollup",
    )

    def __str__(self) -> str:
        return f"pending {self.entry_id}"
