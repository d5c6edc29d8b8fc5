"""Search tables: the database backend's index, the outbox of pending index updates, counters.

`ProductSearchEntry` is kept for every product whatever the configured backend: it is the
database backend's index, the fallback when the search engine is unreachable, and the record of
what was last sent to the engine (so `search_sync` can find entries that went stale by date).
"""

from django.db import models
from django.utils import timezone

from search.fields import TSVectorField


class ProductSearchEntry(models.Model):
    """One row per product: text pre-analysed by `search.text`, and denormalised facets.

    `sellable`, `gi` and `in_stock` record the state when the row was written (what the engine
    was sent). The database backend does not trust them for filtering: it applies
    `Product.objects.sellable(today)`, the GI expiry date and live stock at query time.
    """

    product = models.OneToOneField(
        "catalog.Product", primary_key=True, on_delete=models.CASCADE, related_name="search_entry"
    )
    name = models.CharField(max_length=128)
    # whitespace-joined tokens from search.text.index_terms (+ the name's Han characters)
    name_terms = models.TextField(blank=True)
    body_terms = models.TextField(blank=True)
    pinyin = models.TextField(blank=True)
    initials = models.TextField(blank=True)
    name_chars = models.TextField(blank=True)
    autocomplete = models.TextField(blank=True)
    # PostgreSQL: weighted tsvector of the above (GIN index added by migration 0002)
    document = TSVectorField(null=True, blank=True)
    # a hash of the analysed source text: unchanged text is not segmented again
    text_hash = models.CharField(max_length=64, blank=True)
    supplier = models.ForeignKey("catalog.Supplier", on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey("catalog.Category", on_delete=models.CASCADE, related_name="+")
    county = models.ForeignKey("catalog.County", on_delete=models.CASCADE, related_name="+")
    poverty = models.BooleanField(default=False, help_text="832-eligible (both counties 脱贫县).")
    gi = models.BooleanField(default=False, help_text="Held a current GI when written.")
    gi_until = models.DateField(null=True, blank=True, help_text="Latest GI expiry.")
    min_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    price_band = models.CharField(max_length=16, blank=True)
    in_stock = models.BooleanField(default=False)
    sellable = models.BooleanField(default=False)
    created_at = models.DateTimeField(help_text="The product's creation time (for sorting).")
    indexed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "product search entries"
        indexes = [
            models.Index(fields=["price_band"]),
            models.Index(fields=["sellable", "gi"]),
        ]

    def __str__(self) -> str:
        return self.name


class SearchOutbox(models.Model):
    """A product whose index entry must be rewritten: written in the transaction that changed
    the catalog, deleted once the update reached every index (database and engine)."""

    product_id = models.BigIntegerField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "search outbox"

    def __str__(self) -> str:
        return f"product {self.product_id} (attempts {self.attempts})"


class SearchCounter(models.Model):
    """A named counter shared by every app process (fallbacks, failed index updates, ...)."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    detail = models.TextField(blank=True, help_text="The last event's message.")

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class SynonymRule(models.Model):
    """An operator's synonym rule, in the syntax of search/synonyms.txt (`a, b, c` or
    `a, b => c`), added to the file's rules. Saving or deleting one bumps the `synonyms`
    counter, which every process checks per query, so the change takes effect without a
    restart (see `search.synonyms`)."""

    rule = models.CharField(
        max_length=500, help_text="`土豆, 洋芋, 马铃薯` (same meaning) or `羊肉 => 羊排, 羊腿`."
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why (for reviewers).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.rule
