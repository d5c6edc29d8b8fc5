"""Variants of a product: SKUs, unit prices and their quantity tiers, stock."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from catalog import access, hooks
from catalog.errors import CatalogErrorCode
from catalog.models import ProductVariant, TierPrice
from catalog.services.products import require_admitted
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, FieldErrors


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
    errors = FieldErrors()
    for name in ("sku", "spec", "unit"):
        value = getattr(data, name)
        if value is not None or creating:
            value = (value or "").strip()
            if not value:
                errors.add("This field is required.", CatalogErrorCode.REQUIRED, name)
            values[name] = value
    if data.unit_price is not None or creating:
        try:
            values["unit_price"] = _price(data.unit_price, "unitPrice")
        except DomainError as error:
            errors.append(error)
    if data.minimum_order_quantity is not None:
        if data.minimum_order_quantity < 1:
            errors.add(
                "The minimum order quantity is at least 1.",
                CatalogErrorCode.INVALID_QUANTITY,
                "minimumOrderQuantity",
            )
        values["minimum_order_quantity"] = data.minimum_order_quantity
    if data.stock is not None:
        if data.stock < 0:
            errors.add("Stock cannot be negative.", CatalogErrorCode.INVALID_QUANTITY, "stock")
        values["stock"] = data.stock
    errors.raise_any()
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
    require_admitted(product.supplier)
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
    require_admitted(variant.product.supplier)
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
