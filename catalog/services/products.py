"""Listings: products, variants, tier prices, stock, images, certification, authorisations,
inspection reports and trace batches. Supplier staff act on their own supplier's products only."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import access, hooks
from catalog.documents import DocumentUpload, attach_document, verify_if_given
from catalog.errors import CatalogErrorCode
from catalog.images import ProcessedImage, process_image
from catalog.models import (
    AuthorizationKind,
    Category,
    ColdChain,
    County,
    FarmerSupply,
    HouseholdStatus,
    InspectionReport,
    LinkageKind,
    Product,
    ProductAuthorization,
    ProductImage,
    ProductStatus,
    ProductTransition,
    ProductVariant,
    SupplierStatus,
    TierPrice,
    TraceBatch,
)
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import BadUserInput, DomainError, DomainErrors, InvalidTransition, NotFound
from shop.core.money import quantize_cny
from shop.core.permissions import require_role

P = ProductStatus

PRODUCT_TRANSITIONS: dict[str, set[str]] = {
    P.DRAFT: {P.PENDING_CERTIFICATION},
    P.PENDING_CERTIFICATION: {P.CERTIFIED, P.CERTIFICATION_REJECTED},
    P.CERTIFICATION_REJECTED: {P.PENDING_CERTIFICATION},
    # Annual review: a certified product is re-submitted when its certification is about to
    # lapse; a material edit (name, category, origin) sends it back to DRAFT.
    P.CERTIFIED: {P.PENDING_CERTIFICATION, P.DRAFT, P.CERTIFIED},
}
# How long before expiry a certified product may be re-submitted for its annual review.
RECERTIFY_WINDOW_DAYS = 90
MATERIAL_FIELDS = ("name", "category_id", "origin_county_id")


def _today() -> date:
    return timezone.localdate()


def _require_admitted(supplier) -> None:
    if supplier.status != SupplierStatus.ADMITTED:
        raise DomainError(
            f"The supplier is {supplier.status}: it can place no listing.",
            code=CatalogErrorCode.SUPPLIER_NOT_ACTIVE,
        )


def _move(product: Product, to_status: str, *, actor: Any, note: str, valid_until=None) -> None:
    from_status = product.status
    if to_status not in PRODUCT_TRANSITIONS.get(from_status, set()):
        raise InvalidTransition(
            f"A {from_status} product cannot become {to_status}.",
            code=CatalogErrorCode.INVALID_TRANSITION,
            field="id",
        )
    product.status = to_status
    if to_status == P.CERTIFIED:
        product.certified_until = valid_until
    product.save(update_fields=["status", "certified_until", "updated_at"])
    hooks.products_changed([product.pk])
    ProductTransition.objects.create(
        product=product,
        from_status=from_status,
        to_status=to_status,
        valid_until=valid_until,
        actor=actor if actor is not None and actor.is_authenticated else None,
        note=note,
    )
    audit_record(
        actor=actor,
        action="product.status",
        target=product,
        reason=note,
        data={"from": from_status, "to": to_status, "validUntil": str(valid_until or "")},
    )


def slug_for(name: str, *, suffix: str = "") -> str:
    """A readable ASCII slug from a Chinese name: 中宁枸杞 → zhong-ning-gou-qi."""
    # Imported here: pypinyin's dictionaries cost ~55 MB and 0.3 s, which every app process
    # would otherwise pay at start-up for a function only listing writes need.
    from pypinyin import lazy_pinyin

    words = [re.sub(r"[^a-z0-9]+", "-", w.lower()).strip("-") for w in lazy_pinyin(name)]
    base = "-".join(w for w in words if w)[:120] or "product"
    return f"{base}-{suffix}" if suffix else base


def _unique_slug(name: str) -> str:
    slug = slug_for(name)
    candidate, n = slug, 1
    while Product.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{slug}-{n}"
    return candidate


# --- Products -------------------------------------------------------------------------------


@dataclass
class ProductInput:
    name: str | None = None
    description: str | None = None
    category_id: int | None = None
    origin_county_id: int | None = None
    cold_chain: str | None = None
    is_published: bool | None = None


def clean_product_input(data: ProductInput) -> dict[str, Any]:
    """The cleaned values of an edit, or the DomainErrors of its bad fields."""
    return _clean_product(data, creating=False)


def _clean_product(data: ProductInput, *, creating: bool) -> dict[str, Any]:
    errors: list[DomainError] = []
    values: dict[str, Any] = {}
    if data.name is not None or creating:
        name = (data.name or "").strip()
        if not name:
            errors.append(
                DomainError("A name is required.", code=CatalogErrorCode.REQUIRED, field="name")
            )
        values["name"] = name
    if data.description is not None:
        values["description"] = data.description.strip()
    if data.category_id is not None or creating:
        if not Category.objects.filter(pk=data.category_id).exists():
            errors.append(
                DomainError(
                    "No such category.", code=CatalogErrorCode.NOT_FOUND, field="categoryId"
                )
            )
        values["category_id"] = data.category_id
    if data.origin_county_id is not None or creating:
        county = County.objects.filter(pk=data.origin_county_id).first()
        if county is None:
            errors.append(
                DomainError(
                    "No such county.", code=CatalogErrorCode.NOT_FOUND, field="originCountyId"
                )
            )
        elif not county.is_ningxia:
            errors.append(
                DomainError(
                    f"{county} is not in Ningxia; products must come from Ningxia.",
                    code=CatalogErrorCode.COUNTY_NOT_IN_NINGXIA,
                    field="originCountyId",
                )
            )
        values["origin_county_id"] = data.origin_county_id
    if data.cold_chain is not None:
        if data.cold_chain not in ColdChain.values:
            errors.append(
                DomainError(
                    "Unknown cold-chain class.", code=CatalogErrorCode.INVALID, field="coldChain"
                )
            )
        values["cold_chain"] = data.cold_chain
    if data.is_published is not None:
        values["is_published"] = data.is_published
    if errors:
        raise DomainErrors(errors)
    return values


@transaction.atomic
def product_create(*, acting_user: Any, data: ProductInput) -> Product:
    """Supplier staff create a DRAFT product for their admitted supplier."""
    require_role(acting_user, *access.POLICIES["productCreate"])
    supplier = acting_user.supplier
    if supplier is None:
        raise DomainError(
            "This account has no supplier.", code=CatalogErrorCode.SUPPLIER_NOT_ACTIVE
        )
    _require_admitted(supplier)
    values = _clean_product(data, creating=True)
    product = Product.objects.create(supplier=supplier, slug=_unique_slug(values["name"]), **values)
    audit_record(actor=acting_user, action="product.create", target=product)
    hooks.products_changed([product.pk])
    return product


@transaction.atomic
def product_update(*, acting_user: Any, product_id: int | None, data: ProductInput) -> Product:
    """Edit a product. Changing what was certified (name, category, origin) sends a certified
    product back to DRAFT, so it must be certified again before it sells."""
    product = access.own_product(acting_user, product_id, lock=True)
    _require_admitted(product.supplier)
    changed = _save_changes(product, _clean_product(data, creating=False), actor=acting_user)
    if product.status == P.CERTIFIED and changed & set(MATERIAL_FIELDS):
        _move(
            product,
            P.DRAFT,
            actor=acting_user,
            note="material change: " + ", ".join(sorted(changed)),
        )
    return product


# What an operator may correct on a listing (the Django admin); what was certified stays the
# supplier's to change through product_update.
OPERATOR_EDITABLE = ("description", "cold_chain", "is_published")


@transaction.atomic
def product_operator_update(
    *, acting_user: Any, product_id: int | None, data: ProductInput
) -> Product:
    """An operator corrects a listing's description, cold-chain class or publication: audited
    and re-indexed like a supplier's edit."""
    require_role(acting_user, access.OPERATOR)
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound("No such product.", field="id")
    refused = [
        name
        for name in ("name", "category_id", "origin_county_id")
        if getattr(data, name) is not None
    ]
    if refused:
        raise DomainError(
            "What was certified is the supplier's to change.",
            code=CatalogErrorCode.INVALID,
            field=refused[0],
        )
    _save_changes(product, _clean_product(data, creating=False), actor=acting_user)
    return product


def _save_changes(product: Product, values: dict[str, Any], *, actor: Any) -> set[str]:
    """Apply cleaned values, re-index the listing and audit which fields changed."""
    changed = {k for k, v in values.items() if getattr(product, k) != v}
    for key, value in values.items():
        setattr(product, key, value)
    product.save()
    hooks.products_changed([product.pk])
    audit_record(
        actor=actor, action="product.update", target=product, data={"changed": sorted(changed)}
    )
    return changed


@transaction.atomic
def product_submit_for_certification(*, acting_user: Any, product_id: int | None) -> Product:
    product = access.own_product(acting_user, product_id, lock=True)
    _require_admitted(product.supplier)
    if not product.variants.exists():
        raise DomainError(
            "Add at least one variant before submitting.",
            code=CatalogErrorCode.NO_VARIANTS,
            field="id",
        )
    if product.status == P.CERTIFIED:
        window_opens = (product.certified_until or _today()) - timedelta(days=RECERTIFY_WINDOW_DAYS)
        if _today() < window_opens:
            raise InvalidTransition(
                f"The certification is valid until {product.certified_until}; it can be "
                f"renewed from {window_opens}.",
                code=CatalogErrorCode.INVALID_TRANSITION,
                field="id",
            )
    _move(product, P.PENDING_CERTIFICATION, actor=acting_user, note="")
    return product


@transaction.atomic
def product_certify(
    *,
    acting_user: Any,
    product_id: int | None,
    certify: bool,
    note: str = "",
    valid_until: date | None = None,
) -> Product:
    """An operator certifies (产品认定) a pending product until `valid_until` (default one
    year), or rejects it with a note."""
    require_role(acting_user, *access.POLICIES["productCertify"])
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound("No such product.")
    if product.status != P.PENDING_CERTIFICATION:
        raise InvalidTransition(
            f"Only a product pending certification can be decided; this one is {product.status}.",
            code=CatalogErrorCode.INVALID_TRANSITION,
            field="id",
        )
    if not certify:
        if not (note or "").strip():
            raise DomainError(
                "Give a reason for the rejection.", code=CatalogErrorCode.REQUIRED, field="note"
            )
        _move(product, P.CERTIFICATION_REJECTED, actor=acting_user, note=note.strip())
        return product
    valid_until = valid_until or _today() + timedelta(
        days=settings.PRODUCT_CERTIFICATION_DEFAULT_DAYS
    )
    if valid_until <= _today():
        raise DomainError(
            "The validity must end in the future.",
            code=CatalogErrorCode.INVALID,
            field="validUntil",
        )
    _move(
        product, P.CERTIFIED, actor=acting_user, note=(note or "").strip(), valid_until=valid_until
    )
    return product


# --- Variants, tiers, stock -----------------------------------------------------------------


@dataclass
class TierInput:
    min_quantity: int
    unit_price: Decimal


@dataclass
class VariantInput:
    sku: str | None = None
    spec: str | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    minimum_order_quantity: int | None = None
    stock: int | None = None
    tiers: list[TierInput] | None = None


def _price(value: Any, field_name: str) -> Decimal:
    return validation.money(
        value,
        column=validation.column(ProductVariant, "unit_price"),
        field=field_name,
        code=CatalogErrorCode.INVALID_PRICE,
    )


def _clean_variant(
    data: VariantInput, *, creating: bool, base: ProductVariant | None
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors: list[DomainError] = []
    for name in ("sku", "spec", "unit"):
        value = getattr(data, name)
        if value is not None or creating:
            value = (value or "").strip()
            if not value:
                errors.append(
                    DomainError(
                        "This field is required.", code=CatalogErrorCode.REQUIRED, field=name
                    )
                )
            values[name] = value
    if data.unit_price is not None or creating:
        try:
            values["unit_price"] = _price(data.unit_price, "unitPrice")
        except DomainError as error:
            errors.append(error)
    if data.minimum_order_quantity is not None:
        if data.minimum_order_quantity < 1:
            errors.append(
                DomainError(
                    "The minimum order quantity is at least 1.",
                    code=CatalogErrorCode.INVALID_QUANTITY,
                    field="minimumOrderQuantity",
                )
            )
        values["minimum_order_quantity"] = data.minimum_order_quantity
    if data.stock is not None:
        if data.stock < 0:
            errors.append(
                DomainError(
                    "Stock cannot be negative.",
                    code=CatalogErrorCode.INVALID_QUANTITY,
                    field="stock",
                )
            )
        values["stock"] = data.stock
    if errors:
        raise DomainErrors(errors)
    if data.tiers is not None:
        unit_price = values.get("unit_price", base.unit_price if base else None)
        moq = values.get("minimum_order_quantity", base.minimum_order_quantity if base else 1)
        values["tiers"] = _clean_tiers(data.tiers, unit_price=unit_price, moq=moq)
    return values


def _clean_tiers(tiers: list[TierInput], *, unit_price: Decimal, moq: int) -> list[TierInput]:
    """Tiers must step up in quantity above the MOQ and never raise the price."""
    cleaned = sorted(
        (TierInput(t.min_quantity, _price(t.unit_price, "tiers")) for t in tiers),
        key=lambda t: t.min_quantity,
    )
    previous_quantity, previous_price = moq, unit_price
    for tier in cleaned:
        if tier.min_quantity <= previous_quantity:
            raise DomainError(
                "Each tier needs a larger quantity than the MOQ and the tier before it.",
                code=CatalogErrorCode.INVALID_QUANTITY,
                field="tiers",
            )
        if tier.unit_price > previous_price:
            raise DomainError(
                "A tier's unit price cannot be higher than the price for fewer units.",
                code=CatalogErrorCode.INVALID_PRICE,
                field="tiers",
            )
        previous_quantity, previous_price = tier.min_quantity, tier.unit_price
    return cleaned


def _save_tiers(variant: ProductVariant, tiers: list[TierInput] | None) -> None:
    if tiers is None:
        return
    variant.tiers.all().delete()
    TierPrice.objects.bulk_create(
        [
            TierPrice(variant=variant, min_quantity=t.min_quantity, unit_price=t.unit_price)
            for t in tiers
        ]
    )


def _sku_taken() -> DomainError:
    return DomainError("This SKU is already used.", code=CatalogErrorCode.UNIQUE, field="sku")


@transaction.atomic
def product_variant_create(
    *, acting_user: Any, product_id: int | None, data: VariantInput
) -> ProductVariant:
    product = access.own_product(acting_user, product_id, lock=True)
    _require_admitted(product.supplier)
    values = _clean_variant(data, creating=True, base=None)
    tiers = values.pop("tiers", None)
    if ProductVariant.objects.filter(sku=values["sku"]).exists():
        raise _sku_taken()
    try:
        with transaction.atomic():
            variant = ProductVariant.objects.create(product=product, **values)
    except IntegrityError as error:  # a concurrent create won the SKU
        raise _sku_taken() from error
    _save_tiers(variant, tiers)
    hooks.products_changed([product.pk])
    audit_record(
        actor=acting_user, action="variant.create", target=variant, data={"sku": variant.sku}
    )
    return variant


@transaction.atomic
def product_variant_update(
    *, acting_user: Any, variant_id: int | None, data: VariantInput
) -> ProductVariant:
    variant = access.own_variant(acting_user, variant_id)
    _require_admitted(variant.product.supplier)
    values = _clean_variant(data, creating=False, base=variant)
    tiers = values.pop("tiers", None)
    if (
        "sku" in values
        and ProductVariant.objects.filter(sku=values["sku"]).exclude(pk=variant.pk).exists()
    ):
        raise _sku_taken()
    for key, value in values.items():
        setattr(variant, key, value)
    variant.save()
    _save_tiers(variant, tiers)
    hooks.products_changed([variant.product_id])
    audit_record(
        actor=acting_user, action="variant.update", target=variant, data={"changed": sorted(values)}
    )
    return variant


@transaction.atomic
def stock_update(*, acting_user: Any, variant_id: int | None, quantity: int) -> ProductVariant:
    """Set the available stock of a variant (under a row lock, like checkout's reservations)."""
    variant = access.own_variant(acting_user, variant_id)
    if quantity < 0 or quantity > 10**9:
        raise DomainError(
            "Stock is a whole number from 0 to 1,000,000,000.",
            code=CatalogErrorCode.INVALID_QUANTITY,
            field="quantity",
        )
    before = variant.stock
    variant.stock = quantity
    variant.save(update_fields=["stock"])
    hooks.products_changed([variant.product_id])
    audit_record(
        actor=acting_user,
        action="variant.stock",
        target=variant,
        data={"from": before, "to": quantity},
    )
    return variant


# --- Images, authorisations, reports --------------------------------------------------------


def store_image(product: Product, processed: ProcessedImage, *, alt: str = "") -> ProductImage:
    """Store a verified image and its thumbnails, and its row; no file is left behind when the
    row cannot be written."""
    stem = f"{product.pk}-{processed.sha256[:16]}"
    image = ProductImage(
        product=product,
        format=processed.format,
        width=processed.width,
        height=processed.height,
        sha256=processed.sha256,
        alt=(alt or product.name)[:128],
        sort_order=product.images.count(),
    )
    storage = image.image.storage
    stored: list[str] = []
    try:
        image.image.save(
            f"{stem}.{processed.extension}", ContentFile(processed.content), save=False
        )
        stored.append(image.image.name)
        for size, content in processed.thumbnails.items():
            stored.append(
                storage.save(f"products/thumbnails/{stem}-{size}.webp", ContentFile(content))
            )
        image.thumbnails = dict(
            zip((str(size) for size in processed.thumbnails), stored[1:], strict=True)
        )
        image.save()
    except Exception:
        # Files are not transactional: do not leave any behind for a row that was not written.
        for name in stored:
            storage.delete(name)
        raise
    return image


@transaction.atomic
def product_image_create(
    *,
    acting_user: Any,
    product_id: int | None,
    data: bytes,
    filename: str,
    content_type: str | None,
    alt: str = "",
) -> ProductImage:
    """Verify an upload by decoding it, strip its metadata, store it with WebP thumbnails.
    A refused file stores nothing."""
    product = access.own_product(acting_user, product_id, lock=True)
    _require_admitted(product.supplier)
    processed = process_image(data, filename=filename, content_type=content_type)
    image = store_image(product, processed, alt=alt)
    audit_record(
        actor=acting_user, action="product.image_add", target=product, data={"image": image.pk}
    )
    return image


@dataclass
class AuthorizationInput:
    kind: str
    name: str
    expires_on: date
    number: str = ""
    scope: str = ""


@transaction.atomic
def product_authorization_add(
    *, acting_user: Any, product_id: int | None, data: AuthorizationInput
) -> ProductAuthorization:
    """Attach a GI or regional-brand authorisation (地理标志/区域公用品牌使用授权)."""
    product = access.own_product(acting_user, product_id)
    errors = []
    if data.kind not in AuthorizationKind.values:
        errors.append(
            DomainError("Unknown authorisation kind.", code=CatalogErrorCode.INVALID, field="kind")
        )
    if not (data.name or "").strip():
        errors.append(
            DomainError("A name is required.", code=CatalogErrorCode.REQUIRED, field="name")
        )
    if data.expires_on <= _today():
        errors.append(
            DomainError(
                "The authorisation has expired.",
                code=CatalogErrorCode.QUALIFICATION_EXPIRED,
                field="expiresOn",
            )
        )
    else:
        validation.collecting(
            errors,
            validation.document_expiry,
            data.expires_on,
            today=_today(),
            field="expiresOn",
            code=CatalogErrorCode.INVALID,
        )
    if errors:
        raise DomainErrors(errors)
    authorization = ProductAuthorization.objects.create(
        product=product,
        kind=data.kind,
        name=data.name.strip(),
        number=(data.number or "").strip(),
        scope=(data.scope or "").strip(),
        expires_on=data.expires_on,
    )
    hooks.products_changed([product.pk])
    audit_record(
        actor=acting_user,
        action="product.authorization_add",
        target=product,
        data={"kind": data.kind},
    )
    return authorization


@dataclass
class InspectionReportInput:
    lab: str
    number: str
    items: str
    tested_on: date


@transaction.atomic
def inspection_report_add(
    *,
    acting_user: Any,
    product_id: int | None,
    data: InspectionReportInput,
    document: DocumentUpload | None = None,
) -> InspectionReport:
    """Attach a test report to an own product, optionally with the lab's file (PDF or image,
    verified by content and kept private; a refused file stores nothing)."""
    product = access.own_product(acting_user, product_id)
    errors = [
        DomainError("This field is required.", code=CatalogErrorCode.REQUIRED, field=name)
        for name in ("lab", "number", "items")
        if not (getattr(data, name) or "").strip()
    ]
    if data.tested_on > _today():
        errors.append(
            DomainError(
                "The test date is in the future.", code=CatalogErrorCode.INVALID, field="testedOn"
            )
        )
    verified = verify_if_given(document, errors)
    if errors:
        raise DomainErrors(errors)
    report = InspectionReport.objects.create(
        product=product,
        lab=data.lab.strip(),
        number=data.number.strip(),
        items=data.items.strip(),
        tested_on=data.tested_on,
    )
    if verified is not None:
        attach_document(report, verified)
    audit_record(actor=acting_user, action="product.inspection_report_add", target=product)
    return report


# --- Trace batches --------------------------------------------------------------------------


@dataclass
class HouseholdInput:
    household: str
    village: str
    linkage: str
    amount_paid: Decimal
    poverty_status: str = HouseholdStatus.NONE


@dataclass
class TraceBatchInput:
    code: str
    produced_on: date
    origin_county_id: int | None
    quantity: Decimal
    quantity_unit: str = "kg"
    base: str = ""
    certificate_number: str = ""
    inspection_report_id: int | None = None
    households: list[HouseholdInput] = field(default_factory=list)


def _clean_households(items: list[HouseholdInput]) -> list[DomainError]:
    errors = []
    for n, item in enumerate(items, start=1):
        if not item.household.strip() or not item.village.strip():
            errors.append(
                DomainError(
                    f"Household {n}: name and village are required.",
                    code=CatalogErrorCode.REQUIRED,
                    field="households",
                )
            )
        if item.linkage not in LinkageKind.values:
            errors.append(
                DomainError(
                    f"Household {n}: unknown linkage kind.",
                    code=CatalogErrorCode.INVALID,
                    field="households",
                )
            )
        if item.poverty_status not in HouseholdStatus.values:
            errors.append(
                DomainError(
                    f"Household {n}: unknown poverty status.",
                    code=CatalogErrorCode.INVALID,
                    field="households",
                )
            )
        try:
            validation.money(
                item.amount_paid,
                column=validation.column(FarmerSupply, "amount_paid"),
                sign="nonnegative",
            )
        except BadUserInput as error:
            errors.append(
                DomainError(
                    f"Household {n}: {error}", code=CatalogErrorCode.INVALID, field="households"
                )
            )
    return errors


@transaction.atomic
def trace_batch_create(
    *, acting_user: Any, product_id: int | None, data: TraceBatchInput
) -> TraceBatch:
    """Record a production batch (溯源批次) with its supplying households (供货农户台账)."""
    product = access.own_product(acting_user, product_id)
    errors: list[DomainError] = []
    code = (data.code or "").strip()
    if not code:
        errors.append(
            DomainError("A batch code is required.", code=CatalogErrorCode.REQUIRED, field="code")
        )
    elif TraceBatch.objects.filter(code=code).exists():
        errors.append(
            DomainError(
                "This batch code is already used.", code=CatalogErrorCode.UNIQUE, field="code"
            )
        )
    county = County.objects.filter(pk=data.origin_county_id).first()
    if county is None or not county.is_ningxia:
        errors.append(
            DomainError(
                "The origin must be a Ningxia county.",
                code=CatalogErrorCode.COUNTY_NOT_IN_NINGXIA,
                field="originCountyId",
            )
        )
    if data.produced_on > _today():
        errors.append(
            DomainError(
                "The production date is in the future.",
                code=CatalogErrorCode.INVALID,
                field="producedOn",
            )
        )
    validation.collecting(
        errors,
        validation.quantity,
        data.quantity,
        column=validation.column(TraceBatch, "quantity"),
        field="quantity",
        code=CatalogErrorCode.INVALID_QUANTITY,
    )
    report = None
    if data.inspection_report_id is not None:
        report = product.inspection_reports.filter(pk=data.inspection_report_id).first()
        if report is None:
            errors.append(
                DomainError(
                    "No such inspection report for this product.",
                    code=CatalogErrorCode.NOT_FOUND,
                    field="inspectionReportId",
                )
            )
    errors += _clean_households(data.households)
    if errors:
        raise DomainErrors(errors)
    batch = TraceBatch.objects.create(
        code=code,
        product=product,
        produced_on=data.produced_on,
        origin_county=county,
        base=data.base.strip(),
        quantity=data.quantity,
        quantity_unit=data.quantity_unit.strip() or "kg",
        certificate_number=data.certificate_number.strip(),
        inspection_report=report,
    )
    FarmerSupply.objects.bulk_create(
        validation.checked_rows(
            FarmerSupply(
                batch=batch,
                household=h.household.strip(),
                village=h.village.strip(),
                poverty_status=h.poverty_status,
                linkage=h.linkage,
                amount_paid=quantize_cny(h.amount_paid),
            )
            for h in data.households
        )
    )
    audit_record(
        actor=acting_user, action="trace_batch.create", target=batch, data={"product": product.pk}
    )
    return batch
