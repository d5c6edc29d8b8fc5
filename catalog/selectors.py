"""Catalog reads, scoped to the caller."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from catalog import access
from catalog.documents import stored_content_type
from catalog.models import (
    POVERTY_COUNTY_PRODUCT,
    AuthorizationKind,
    Category,
    City,
    County,
    InspectionReport,
    Product,
    ProductAuthorization,
    ProductVariant,
    Qualification,
    Supplier,
    TraceBatch,
)
from shop.accounts.models import Role
from shop.core import validation
from shop.core.errors import NotFound, PermissionDenied
from shop.core.permissions import has_role, require_authenticated
from shop.core.selectors import filtered_by_given


def today() -> date:
    return timezone.localdate()


@dataclass
class ProductFilter:
    category_ids: list[int] | None = None
    county_ids: list[int] | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    has_gi: bool | None = None
    poverty_county: bool | None = None
    in_stock: bool | None = None
    supplier_ids: list[int] | None = None

    def __post_init__(self) -> None:
        price = validation.column(ProductVariant, "unit_price")
        for name in ("price_min", "price_max"):
            if getattr(self, name) is not None:
                setattr(
                    self,
                    name,
                    validation.money(getattr(self, name), column=price, sign="any", field="price"),
                )


PRODUCT_SORTS = {
    "NAME": ("name", "id"),
    "PRICE": ("min_price", "id"),
    "CREATED": ("created_at", "id"),
}


def _with_gi(products: QuerySet[Product], on: date) -> QuerySet[Product]:
    current_gi = ProductAuthorization.objects.filter(
        product=OuterRef("pk"),
        kind=AuthorizationKind.GI,
        expires_on__gte=on,
    )
    return products.annotate(has_gi=Exists(current_gi))


def _with_min_price(products: QuerySet[Product]) -> QuerySet[Product]:
    # A correlated subquery rather than Min() over a join: no GROUP BY, so COUNT(*) drops it and
    # a page computes it only for the rows it returns (unless it sorts or filters by price).
    cheapest = ProductVariant.objects.filter(product=OuterRef("pk")).order_by("unit_price")
    return products.annotate(min_price=Subquery(cheapest.values("unit_price")[:1]))


def storefront_products(
    *, filters: ProductFilter | None = None, sort: str = "NAME", descending: bool = False
) -> QuerySet[Product]:
    """Sellable products (see ProductQuerySet.sellable), filtered and sorted."""
    on = today()
    products = _with_min_price(_with_gi(Product.objects.sellable(on), on)).select_related(
        "category", "origin_county", "supplier__county"
    )
    f = filters or ProductFilter()
    products = filtered_by_given(
        products,
        category_id__in=f.category_ids,
        origin_county_id__in=f.county_ids,
        supplier_id__in=f.supplier_ids,
        min_price__gte=f.price_min,
        min_price__lte=f.price_max,
        has_gi=f.has_gi,
    )
    if f.poverty_county is not None:
        eligible = POVERTY_COUNTY_PRODUCT
        products = products.filter(eligible if f.poverty_county else ~eligible)
    if f.in_stock is not None:
        stocked = ProductVariant.objects.filter(
            product=OuterRef("pk"), stock__gte=F("minimum_order_quantity")
        )
        products = products.filter(Exists(stocked) if f.in_stock else ~Exists(stocked))
    order = PRODUCT_SORTS.get(sort, PRODUCT_SORTS["NAME"])
    return products.order_by(*[f"-{key}" if descending else key for key in order])


def storefront_product(*, product_id: int | None = None, slug: str | None = None) -> Product | None:
    products = storefront_products()
    if product_id is not None:
        return products.filter(pk=product_id).first()
    if slug:
        return products.filter(slug=slug).first()
    return None


def recommended_catalog() -> QuerySet[Product]:
    """推荐目录: every sellable certified product, by category then origin."""
    return (
        storefront_products()
        .select_related("supplier", "category", "origin_county")
        .order_by("category__sort_order", "origin_county__code", "name", "id")
    )


def managed_products(*, acting_user: Any) -> QuerySet[Product]:
    """Every product the caller manages, whatever its status: supplier staff their own,
    operators and auditors all."""
    products = access.managed_products(acting_user)
    return _with_min_price(_with_gi(products, today())).order_by("id")


def categories() -> QuerySet[Category]:
    return Category.objects.order_by("sort_order", "id")


def cities() -> QuerySet[City]:
    return City.objects.order_by("code")


def origins(*, ningxia_only: bool = True) -> QuerySet[County]:
    counties = County.objects.order_by("code")
    return counties.filter(province="宁夏回族自治区") if ningxia_only else counties


@dataclass
class SupplierFilter:
    statuses: list[str] | None = None
    county_ids: list[int] | None = None
    search: str | None = None

    def __post_init__(self) -> None:
        self.search = validation.search_text(self.search) or None


def suppliers_visible_to(
    *, acting_user: Any, filters: SupplierFilter | None = None
) -> QuerySet[Supplier]:
    """Operators and auditors see all suppliers; a county reviewer those of their county;
    supplier staff only their own."""
    suppliers = access.suppliers(acting_user).select_related("county")
    f = filters or SupplierFilter()
    suppliers = filtered_by_given(suppliers, status__in=f.statuses, county_id__in=f.county_ids)
    if f.search:
        suppliers = suppliers.filter(Q(name__icontains=f.search) | Q(credit_code=f.search.upper()))
    return suppliers.order_by("id")


def trace_batch_by_code(code: str) -> TraceBatch | None:
    """Public: a buyer scans a batch code and sees the chain back to the households."""
    return (
        TraceBatch.objects.select_related(
            "product__supplier", "product__category", "origin_county", "inspection_report"
        )
        .prefetch_related("households")
        .filter(code=(code or "").strip())
        .first()
    )


# --- Supplier records and private documents ---------------------------------------------------


_MAX_ID = 2**63 - 1  # BigAutoField


@dataclass(frozen=True)
class PrivateDocument:
    """A stored private file, and how to hand it out."""

    file: FieldFile
    content_type: str
    filename: str  # offered to the browser; never the uploader's own name


# kind (in the download URL) → (model, roles that may read some of them, the per-object rule)
DOCUMENT_KINDS = {
    "qualifications": (
        Qualification.objects.select_related("supplier"),
        (Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER, Role.COUNTY_REVIEWER),
        lambda user, q: access.can_read_qualifications(user, q.supplier),
    ),
    "inspection-reports": (
        InspectionReport.objects.select_related("product"),
        (Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER),
        access.can_read_inspection_report_file,
    ),
}


def may_read_document(user: Any, kind: str, document: Qualification | InspectionReport) -> bool:
    """Whether `user` may download the file of `document` (of `kind`, a DOCUMENT_KINDS key)."""
    _queryset, _roles, rule = DOCUMENT_KINDS[kind]
    return bool(document.file) and rule(user, document)


def private_document(*, acting_user: Any, kind: str, document_id: int | None) -> PrivateDocument:
    """The file of one qualification or inspection report, for the caller to download.

    Anonymous callers are NotAuthenticated and roles that never read documents PermissionDenied;
    a document of another organisation is NotFound, like one that does not exist or has no file.
    """
    require_authenticated(acting_user)
    if kind not in DOCUMENT_KINDS:
        raise NotFound("No such document.")
    queryset, roles, _rule = DOCUMENT_KINDS[kind]
    if not has_role(acting_user, *roles):
        raise PermissionDenied()
    in_range = document_id is not None and 0 < document_id <= _MAX_ID  # else PostgreSQL errs
    document = queryset.filter(pk=document_id).first() if in_range else None
    if document is None or not may_read_document(acting_user, kind, document):
        raise NotFound("No such document.")
    content_type, extension = stored_content_type(document.file.name)
    return PrivateDocument(
        file=document.file,
        content_type=content_type,
        filename=f"{kind.rstrip('s')}-{document.pk}.{extension}",
    )
