"""Catalog: reference data, suppliers with their admission and exit, products, traceability."""

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog import hooks
from catalog.errors import CatalogErrorCode
from shop.accounts import organisations
from shop.core.lifecycle import Lifecycle
from shop.core.models import TransitionRecord
from shop.core.storage import private_storage

NINGXIA = "宁夏回族自治区"
FUJIAN = "福建省"


# --- Reference data -------------------------------------------------------------------------


class County(models.Model):
    """A county-level division (县/区/县级市). Ningxia ones are where products may come from."""

    code = models.CharField(
        max_length=12, unique=True, help_text="GB/T 2260 division code (towns: see docs)."
    )
    name = models.CharField(max_length=32)
    prefecture = models.CharField(max_length=32, help_text="地级市, e.g. 中卫市.")
    province = models.CharField(max_length=32, default=NINGXIA)
    # 脱贫县: a poverty-exited county. Makes its suppliers and products "832-eligible", which is
    # a separate question from whether a purchase counts toward a target.
    is_poverty_exited = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "counties"

    def __str__(self) -> str:
        return f"{self.prefecture}{self.name}"

    @property
    def is_ningxia(self) -> bool:
        return self.province == NINGXIA


class City(models.Model):
    """A Fujian prefecture-level city (地级市): where buying agencies are."""

    code = models.CharField(max_length=6, unique=True)
    name = models.CharField(max_length=32)
    province = models.CharField(max_length=32, default=FUJIAN)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "cities"

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    name = models.CharField(max_length=32, unique=True)
    slug = models.SlugField(max_length=48, unique=True)
    english_name = models.CharField(max_length=64, blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


# --- Suppliers ------------------------------------------------------------------------------


class SupplierStatus(models.TextChoices):
    APPLIED = "APPLIED", "已申请"
    RECOMMENDED = "RECOMMENDED", "县级已推荐"
    ADMITTED = "ADMITTED", "已准入"
    REJECTED = "REJECTED", "未通过"
    SUSPENDED = "SUSPENDED", "已暂停"
    EXITED = "EXITED", "已退出"


def _listings_changed(supplier: "Supplier") -> None:
    # Every product of the supplier enters or leaves the storefront (and its search index).
    hooks.products_changed(supplier.products.values_list("pk", flat=True))


# Who may take each step is checked by the service (catalog/services/suppliers.py).
SUPPLIER_LIFECYCLE = Lifecycle(
    subject="supplier",
    statuses=SupplierStatus,
    transitions={
        SupplierStatus.APPLIED: frozenset(
            {SupplierStatus.RECOMMENDED, SupplierStatus.ADMITTED, SupplierStatus.REJECTED}
        ),
        SupplierStatus.RECOMMENDED: frozenset({SupplierStatus.ADMITTED, SupplierStatus.REJECTED}),
        SupplierStatus.ADMITTED: frozenset({SupplierStatus.SUSPENDED, SupplierStatus.EXITED}),
        SupplierStatus.SUSPENDED: frozenset({SupplierStatus.ADMITTED, SupplierStatus.EXITED}),
        SupplierStatus.REJECTED: frozenset({SupplierStatus.APPLIED}),
        SupplierStatus.EXITED: frozenset({SupplierStatus.APPLIED}),
    },
    history="catalog.SupplierTransition",
    invalid_transition=CatalogErrorCode.INVALID_TRANSITION,
    stamp_every_move="status_changed_at",
    on_move=_listings_changed,
)


class SupplierKind(models.TextChoices):
    ENTERPRISE = "ENTERPRISE", "企业"
    COOPERATIVE = "COOPERATIVE", "农民专业合作社"
    FAMILY_FARM = "FAMILY_FARM", "家庭农场"


class Supplier(models.Model):
    name = models.CharField(max_length=128)
    # 统一社会信用代码, validated with its checksum; one supplier per code, re-applications
    # reuse the row so that its history stays in one place.
    credit_code = models.CharField(max_length=18, unique=True)
    kind = models.CharField(max_length=16, choices=SupplierKind.choices)
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="suppliers")
    legal_representative = models.CharField(max_length=64)
    contact_name = models.CharField(max_length=64)
    contact_phone = models.CharField(max_length=32)
    contact_email = models.EmailField(blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=SupplierStatus.choices, default=SupplierStatus.APPLIED
    )
    status_changed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_poverty_county(self) -> bool:
        return self.county.is_poverty_exited

    @property
    def staff(self) -> "models.QuerySet":
        """The accounts acting for this supplier (through their memberships)."""
        return organisations.members("supplier", [self.pk])


class SupplierMembership(models.Model):
    """A supplier staff account and the supplier it acts for (one per account)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supplier_membership"
    )
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="memberships")

    def __str__(self) -> str:
        return f"{self.user} → {self.supplier}"


class CountyMembership(models.Model):
    """A county reviewer account and the Ningxia county it reviews for (one per account)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="county_membership"
    )
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="memberships")

    def __str__(self) -> str:
        return f"{self.user} → {self.county}"


class SupplierReviewQueue(Supplier):
    """The suppliers waiting for an operator's decision, as their own admin page."""

    class Meta:
        proxy = True
        verbose_name = "supplier awaiting review"
        verbose_name_plural = "supplier review queue"


class SupplierTransition(TransitionRecord):
    """Every status change of a supplier: who, when, why (the note)."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="transitions")
    # The shared columns, with the labels the admin shows.
    from_status = models.CharField(max_length=24, choices=SupplierStatus.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=SupplierStatus.choices, blank=True)

    def __str__(self) -> str:
        return f"{self.supplier_id}: {self.from_status or '-'} → {self.to_status}"


class BlacklistEntry(models.Model):
    """A credit code that may never apply again."""

    credit_code = models.CharField(max_length=18, unique=True)
    supplier = models.ForeignKey(Supplier, null=True, on_delete=models.SET_NULL)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "blacklist entries"

    def __str__(self) -> str:
        return self.credit_code


class QualificationKind(models.TextChoices):
    BUSINESS_LICENCE = "BUSINESS_LICENCE", "营业执照"
    LEGAL_REP_ID = "LEGAL_REP_ID", "法定代表人身份证"
    FOOD_LICENCE = "FOOD_LICENCE", "食品生产/经营许可证"
    OTHER = "OTHER", "其他"


REQUIRED_QUALIFICATIONS = (
    QualificationKind.BUSINESS_LICENCE,
    QualificationKind.LEGAL_REP_ID,
    QualificationKind.FOOD_LICENCE,
)


class Qualification(models.Model):
    """A supplier's document with an expiry. Renewal adds a new row; the newest of each
    required kind is the one that counts."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="qualifications")
    kind = models.CharField(max_length=24, choices=QualificationKind.choices)
    number = models.CharField(max_length=64)
    issuer = models.CharField(max_length=128, blank=True)
    expires_on = models.DateField()
    # A scan (PDF or image, verified by catalog.documents) in the private storage, under a
    # generated name; read through catalog.views.document_download only.
    file = models.FileField(upload_to="qualifications/%Y/", storage=private_storage, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["supplier_id", "kind", "-expires_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def is_required(self) -> bool:
        return self.kind in REQUIRED_QUALIFICATIONS


class QualificationReminder(models.Model):
    """A reminder sent N days before a qualification expires; unique so each is sent once."""

    qualification = models.ForeignKey(
        Qualification, on_delete=models.CASCADE, related_name="reminders"
    )
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["qualification", "days_before"], name="one_reminder_per_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"{self.qualification_id} -{self.days_before}d"


# --- Products -------------------------------------------------------------------------------


class ProductStatus(models.TextChoices):
    DRAFT = "DRAFT", "草稿"
    PENDING_CERTIFICATION = "PENDING_CERTIFICATION", "待认定"
    CERTIFIED = "CERTIFIED", "已认定"
    CERTIFICATION_REJECTED = "CERTIFICATION_REJECTED", "认定未通过"


def _listing_changed(product: "Product") -> None:
    hooks.products_changed([product.pk])


PRODUCT_LIFECYCLE = Lifecycle(
    subject="product",
    statuses=ProductStatus,
    transitions={
        ProductStatus.DRAFT: frozenset({ProductStatus.PENDING_CERTIFICATION}),
        ProductStatus.PENDING_CERTIFICATION: frozenset(
            {ProductStatus.CERTIFIED, ProductStatus.CERTIFICATION_REJECTED}
        ),
        ProductStatus.CERTIFICATION_REJECTED: frozenset({ProductStatus.PENDING_CERTIFICATION}),
        # Annual review: a certified product is re-submitted when its certification is about
        # to lapse; a material edit (name, category, origin) sends it back to DRAFT.
        ProductStatus.CERTIFIED: frozenset(
            {ProductStatus.PENDING_CERTIFICATION, ProductStatus.DRAFT, ProductStatus.CERTIFIED}
        ),
    },
    history="catalog.ProductTransition",
    invalid_transition=CatalogErrorCode.INVALID_TRANSITION,
    audit_action="product.status",
    on_move=_listing_changed,
)


class ColdChain(models.TextChoices):
    FROZEN = "FROZEN", "冷冻"
    CHILLED = "CHILLED", "冷藏"
    AMBIENT = "AMBIENT", "常温"


# 832 eligibility (脱贫地区农副产品): made in a 脱贫县 and supplied from one. Separate from whether
# a purchase counts toward a target. The one definition, in Python and in SQL.
POVERTY_COUNTY_PRODUCT = Q(
    origin_county__is_poverty_exited=True, supplier__county__is_poverty_exited=True
)


def is_poverty_county_product(origin_county: "County", supplier_county: "County") -> bool:
    return origin_county.is_poverty_exited and supplier_county.is_poverty_exited


def sellable_condition(today: date, product: str = "") -> Q:
    """The storefront rule, in one place: supplier admitted, product certified and not
    expired, published. `product`: the path to the product from the model queried, e.g.
    "product__" from a variant (a condition on joins a query already makes costs less to build
    and run than an EXISTS subquery)."""
    return Q(
        **{
            f"{product}supplier__status": SupplierStatus.ADMITTED,
            f"{product}status": ProductStatus.CERTIFIED,
            f"{product}certified_until__gte": today,
            f"{product}is_published": True,
        }
    )


class ProductQuerySet(models.QuerySet):
    def sellable(self, today: date) -> "ProductQuerySet":
        """The products `sellable_condition` holds for."""
        return self.filter(sellable_condition(today))


class Product(models.Model):
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=128)
    slug = models.SlugField(max_length=160, unique=True)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    origin_county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="products")
    cold_chain = models.CharField(
        max_length=8, choices=ColdChain.choices, default=ColdChain.AMBIENT
    )
    status = models.CharField(
        max_length=24, choices=ProductStatus.choices, default=ProductStatus.DRAFT
    )
    certified_until = models.DateField(null=True, blank=True)
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "certified_until"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["name"]),
        ]

    def __str__(self) -> str:
        return self.name


class ProductTransition(TransitionRecord):
    """Every certification status change of a product, with its note and validity."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="transitions")
    # The shared columns, with the labels the admin shows.
    from_status = models.CharField(max_length=24, choices=ProductStatus.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=ProductStatus.choices, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.product_id}: {self.from_status or '-'} → {self.to_status}"


class ProductVariant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    spec = models.CharField(max_length=64, help_text='e.g. "500g×2袋".')
    unit = models.CharField(max_length=16, help_text='e.g. "箱", "袋", "瓶".')
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    minimum_order_quantity = models.PositiveIntegerField(default=1)
    stock = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["product_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="variant_price_positive"),
            models.CheckConstraint(
                condition=Q(minimum_order_quantity__gte=1), name="variant_moq_at_least_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.spec}"


class TierPrice(models.Model):
    """From `min_quantity` units on, each unit costs `unit_price`."""

    variant = models.ForeignKey(ProductVariant, on_delete=models.CASCADE, related_name="tiers")
    min_quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["variant_id", "min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["variant", "min_quantity"], name="one_tier_per_step"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="tier_price_positive"),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_quantity}: {self.unit_price}"


class AuthorizationKind(models.TextChoices):
    GI = "GI", "地理标志"
    REGIONAL_BRAND = "REGIONAL_BRAND", "区域公用品牌"


class ProductAuthorization(models.Model):
    """A GI or regional-brand authorisation (使用授权) for a product, with scope and expiry."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="authorizations")
    kind = models.CharField(max_length=16, choices=AuthorizationKind.choices)
    name = models.CharField(max_length=64, help_text='e.g. "中宁枸杞", "盐池滩羊".')
    number = models.CharField(max_length=64, blank=True)
    scope = models.CharField(max_length=255, blank=True)
    expires_on = models.DateField()

    class Meta:
        ordering = ["product_id", "kind", "-expires_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class InspectionReport(models.Model):
    """检测报告: a lab's test report for a product (and optionally for trace batches)."""

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="inspection_reports"
    )
    lab = models.CharField(max_length=128)
    number = models.CharField(max_length=64)
    items = models.TextField(help_text="What was tested, e.g. 农残, 重金属, 二氧化硫.")
    tested_on = models.DateField()
    # Private like qualification scans: see Qualification.file.
    file = models.FileField(upload_to="reports/%Y/", storage=private_storage, blank=True)

    class Meta:
        ordering = ["product_id", "-tested_on"]

    def __str__(self) -> str:
        return f"{self.lab} {self.number}"


class ProductImage(models.Model):
    """An image verified and re-encoded by catalog.images; thumbnails are WebP."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(upload_to="products/%Y/%m/")
    format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    thumbnails = models.JSONField(default=dict, help_text="{size: storage path}")
    alt = models.CharField(max_length=128, blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product_id", "sort_order", "id"]

    def __str__(self) -> str:
        return self.image.name


# --- Traceability ---------------------------------------------------------------------------


class TraceBatch(models.Model):
    """溯源批次: one harvest or production batch of a product."""

    code = models.CharField(max_length=64, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="trace_batches")
    produced_on = models.DateField(help_text="Production or harvest date.")
    origin_county = models.ForeignKey(County, on_delete=models.PROTECT)
    base = models.CharField(max_length=128, blank=True, help_text="种植/养殖基地.")
    quantity = models.DecimalField(max_digits=14, decimal_places=2)
    quantity_unit = models.CharField(max_length=16, default="kg")
    # 承诺达标合格证 number: the producer's compliance pledge that travels with the goods.
    certificate_number = models.CharField(max_length=64, blank=True)
    inspection_report = models.ForeignKey(
        InspectionReport, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-produced_on", "id"]

    def __str__(self) -> str:
        return self.code


class HouseholdStatus(models.TextChoices):
    NONE = "NONE", "一般农户"
    LIFTED = "LIFTED", "脱贫户"
    MONITORED = "MONITORED", "监测户"


class LinkageKind(models.TextChoices):
    EMPLOYMENT = "EMPLOYMENT", "务工就业"
    LAND_LEASE = "LAND_LEASE", "土地流转"
    ORDER_PURCHASE = "ORDER_PURCHASE", "订单收购"
    DIVIDEND = "DIVIDEND", "入股分红"


class FarmerSupply(models.Model):
    """供货农户台账: a household that supplied a batch, how it is linked, what it was paid."""

    batch = models.ForeignKey(TraceBatch, on_delete=models.CASCADE, related_name="households")
    household = models.CharField(max_length=64, help_text="Head of household.")
    village = models.CharField(max_length=64)
    poverty_status = models.CharField(
        max_length=16, choices=HouseholdStatus.choices, default=HouseholdStatus.NONE
    )
    linkage = models.CharField(max_length=16, choices=LinkageKind.choices)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["batch_id", "id"]
        verbose_name_plural = "farmer supplies"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0), name="household_amount_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.village} {self.household}"


# --- What the storefront shows, as a version ----------------------------------------------------


class CatalogVersion(models.Model):
    """Counters whose sum changes with every committed change the storefront can show (see
    catalog/version.py). Several rows ("stripes") so that concurrent writers rarely wait for
    one another; each database connection always bumps the same one. `value` counts every
    change but stock-only ones, `stock` those: a checkout moves stock, not names or prices."""

    stripe = models.PositiveSmallIntegerField(primary_key=True)
    value = models.BigIntegerField(default=0)
    stock = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "catalog version stripe"

    def __str__(self) -> str:
        return f"stripe {self.stripe}: {self.value}"
