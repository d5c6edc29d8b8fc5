"""Listings: a product's fields and its slug (its status moves by `PRODUCT_LIFECYCLE`, in
catalog/models.py). Variants and prices, images, certification and its evidence, and trace
batches are in the modules beside this one; supplier staff act on their own supplier's
products only."""

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from catalog import access, hooks
from catalog.errors import CatalogErrorCode
from catalog.models import (
    PRODUCT_LIFECYCLE,
    Category,
    ColdChain,
    County,
    Product,
    ProductStatus,
    SupplierStatus,
)
from shop.core import lifecycle
from shop.core.audit import audit_record
from shop.core.errors import DomainError, DomainErrors, FieldErrors, NotFound
from shop.core.permissions import require_role

P = ProductStatus

# An edit of any of these sends a certified product back to DRAFT.
MATERIAL_FIELDS = ("name", "category_id", "origin_county_id")


def require_admitted(supplier) -> None:
    """Only an admitted supplier's staff may change its listings."""
    if supplier.status != SupplierStatus.ADMITTED:
        raise DomainError(
            f"The supplier is {supplier.status}: it can place no listing.",
            code=CatalogErrorCode.SUPPLIER_NOT_ACTIVE,
        )


def slug_for(name: str, *, suffix: str = "") -> str:
    """A readable ASCII slug from a Chinese name: 中宁枸杞 → zhong-ning-gou-qi."""
    # pypinyin's output from the compact shared tables (shop.core.lexicon): stock pypinyin would
    # load ~55 MB of dictionaries into the worker that serves the first listing write.
    from shop.core.lexicon import lazy_pinyin

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
    errors = FieldErrors()
    values: dict[str, Any] = {}
    if data.name is not None or creating:
        name = (data.name or "").strip()
        if not name:
            errors.add("A name is required.", CatalogErrorCode.REQUIRED, "name")
        values["name"] = name
    if data.description is not None:
        values["description"] = data.description.strip()
    if data.category_id is not None or creating:
        if not Category.objects.filter(pk=data.category_id).exists():
            errors.add("No such category.", CatalogErrorCode.NOT_FOUND, "categoryId")
        values["category_id"] = data.category_id
    if data.origin_county_id is not None or creating:
        county = County.objects.filter(pk=data.origin_county_id).first()
        if county is None:
            errors.add("No such county.", CatalogErrorCode.NOT_FOUND, "originCountyId")
        elif not county.is_ningxia:
            errors.add(
                f"{county} is not in Ningxia; products must come from Ningxia.",
                CatalogErrorCode.COUNTY_NOT_IN_NINGXIA,
                "originCountyId",
            )
        values["origin_county_id"] = data.origin_county_id
    if data.cold_chain is not None:
        if data.cold_chain not in ColdChain.values:
            errors.add("Unknown cold-chain class.", CatalogErrorCode.INVALID, "coldChain")
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
    require_admitted(supplier)
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
    require_admitted(product.supplier)
    changed = _save_changes(product, _clean_product(data, creating=False), actor=acting_user)
    if product.status == P.CERTIFIED and changed & set(MATERIAL_FIELDS):
        lifecycle.move(
            PRODUCT_LIFECYCLE,
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
    require_role(acting_user, *access.ADMIN_EDITORS)
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
