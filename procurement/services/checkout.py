"""Checkout: an agency's basket becomes one order per supplier, all or nothing.

Stock is reserved by decrementing it under row locks taken in variant-id order (so two
checkouts never deadlock on each other), and the suppliers involved are share-locked so that a
concurrent suspension waits for this checkout and then cancels its orders. A retry with the same
idempotency key returns the orders of the first request and creates nothing.
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from catalog.models import Product, ProductVariant, TierPrice
from procurement.errors import ProcurementErrorCode
from procurement.models import SHIP_WITHIN_DAYS, Checkout, Order, OrderEvent, OrderLine
from shop.accounts.models import Role
from shop.core import validation
from shop.core.audit import audit_record_many
from shop.core.errors import DomainError, DomainErrors
from shop.core.metrics import count_checkout_conflicts
from shop.core.money import quantize_cny
from shop.core.permissions import require_role

MAX_LINE_QUANTITY = 1_000_000
MAX_LINES = 200


@dataclass(frozen=True)
class CheckoutLine:
    variant_id: int | None
    quantity: int


@dataclass(frozen=True)
class ShippingAddress:
    recipient: str
    phone: str
    address: str


def unit_price_for(variant: ProductVariant, tiers: list[TierPrice], quantity: int) -> Decimal:
    """The tier price of the largest step reached, else the variant's unit price."""
    price = variant.unit_price
    for tier in sorted(tiers, key=lambda t: t.min_quantity):
        if quantity >= tier.min_quantity:
            price = tier.unit_price
    return price


def _payload_hash(
    lines: list[CheckoutLine], shipping: ShippingAddress, ship_within_days: int
) -> str:
    payload = {
        "lines": sorted([line.variant_id or 0, line.quantity] for line in lines),
        "shipping": [shipping.recipient, shipping.phone, shipping.address],
        "shipWithinDays": ship_within_days,
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _check_request(
    lines: list[CheckoutLine], shipping: ShippingAddress, ship_within_days: int
) -> dict[int, int]:
    """Shape checks that need no locks; returns quantity per variant id (repeats merged)."""
    if not lines:
        raise DomainError("The basket is empty.", code=ProcurementErrorCode.NO_LINES, field="lines")
    if len(lines) > MAX_LINES:
        raise DomainError(
            f"At most {MAX_LINES} lines.", code=ProcurementErrorCode.INVALID, field="lines"
        )
    errors: list[DomainError] = []
    wanted: dict[int, int] = defaultdict(int)
    for index, line in enumerate(lines):
        if line.variant_id is None:
            errors.append(
                DomainError(
                    "No such product variant.",
                    code=ProcurementErrorCode.VARIANT_NOT_FOUND,
                    field=f"lines.{index}.variantId",
                )
            )
        if not 0 < line.quantity <= MAX_LINE_QUANTITY:
            errors.append(
                DomainError(
                    f"A quantity is a whole number from 1 to {MAX_LINE_QUANTITY:,}.",
                    code=ProcurementErrorCode.INVALID_QUANTITY,
                    field=f"lines.{index}.quantity",
                )
            )
        elif line.variant_id is not None:
            wanted[line.variant_id] += line.quantity
    if ship_within_days not in SHIP_WITHIN_DAYS:
        errors.append(
            DomainError(
                "Ship within 7, 15 or 30 days.",
                code=ProcurementErrorCode.INVALID_SHIP_WITHIN,
                field="shipWithinDays",
            )
        )
    for name in ("recipient", "phone", "address"):
        if not (getattr(shipping, name) or "").strip():
            errors.append(
                DomainError(
                    "This field is required.",
                    code=ProcurementErrorCode.REQUIRED,
                    field=f"shippingAddress.{name}",
                )
            )
    if errors:
        raise DomainErrors(errors)
    return dict(wanted)


def _field_of(lines: list[CheckoutLine], variant_id: int, name: str) -> str:
    index = next(i for i, line in enumerate(lines) if line.variant_id == variant_id)
    return f"lines.{index}.{name}"


def _share_lock_suppliers(supplier_ids: set[int]) -> None:
    if connection.vendor == "postgresql" and supplier_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM catalog_supplier WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                [sorted(supplier_ids)],
            )


def _reserve(lines: list[CheckoutLine], wanted: dict[int, int]) -> dict[int, ProductVariant]:
    """Lock the variants, check they can be sold in these quantities, decrement stock."""
    variants = {
        v.pk: v
        for v in ProductVariant.objects.select_for_update(of=("self",))
        .select_related("product__supplier", "product__origin_county", "product__category")
        .filter(pk__in=wanted)
        .order_by("pk")
    }
    today = timezone.localdate()
    sellable = set(
        Product.objects.sellable(today)
        .filter(pk__in={v.product_id for v in variants.values()})
        .values_list("pk", flat=True)
    )
    _share_lock_suppliers({v.product.supplier_id for v in variants.values()})
    errors: list[DomainError] = []
    for variant_id, quantity in wanted.items():
        variant = variants.get(variant_id)
        if variant is None:
            errors.append(
                DomainError(
                    "No such product variant.",
                    code=ProcurementErrorCode.VARIANT_NOT_FOUND,
                    field=_field_of(lines, variant_id, "variantId"),
                )
            )
        elif variant.product_id not in sellable:
            errors.append(
                DomainError(
                    f"{variant.product.name} is not on sale.",
                    code=ProcurementErrorCode.NOT_SELLABLE,
                    field=_field_of(lines, variant_id, "variantId"),
                )
            )
        elif quantity < variant.minimum_order_quantity:
            errors.append(
                DomainError(
                    f"{variant.product.name} {variant.spec}: the minimum order is "
                    f"{variant.minimum_order_quantity} {variant.unit}.",
                    code=ProcurementErrorCode.BELOW_MINIMUM_QUANTITY,
                    field=_field_of(lines, variant_id, "quantity"),
                )
            )
        elif quantity > variant.stock:
            errors.append(
                DomainError(
                    f"{variant.product.name} {variant.spec}: only {variant.stock} "
                    f"{variant.unit} left.",
                    code=ProcurementErrorCode.INSUFFICIENT_STOCK,
                    field=_field_of(lines, variant_id, "quantity"),
                )
            )
    if errors:
        # Counted here, not from the rolled-back transaction: the refusal is the event.
        count_checkout_conflicts(
            [e.code for e in errors if e.code == ProcurementErrorCode.INSUFFICIENT_STOCK]
        )
        raise DomainErrors(errors)
    for variant_id, quantity in wanted.items():
        variants[variant_id].stock -= quantity
    ProductVariant.objects.bulk_update(variants.values(), ["stock"])
    return variants


def _place_orders(
    checkout: Checkout,
    wanted: dict[int, int],
    variants: dict[int, ProductVariant],
    shipping: ShippingAddress,
    ship_within_days: int,
    actor: Any,
) -> list[Order]:
    tiers: dict[int, list[TierPrice]] = defaultdict(list)
    for tier in TierPrice.objects.filter(variant_id__in=wanted):
        tiers[tier.variant_id].append(tier)
    by_supplier: dict[int, list[ProductVariant]] = defaultdict(list)
    for variant_id in sorted(wanted):
        by_supplier[variants[variant_id].product.supplier_id].append(variants[variant_id])
    agency = checkout.agency
    today = timezone.localdate()
    orders, lines_of = [], []
    for n, (supplier_id, supplier_variants) in enumerate(sorted(by_supplier.items()), start=1):
        lines = [
            _line(variant, wanted[variant.pk], tiers[variant.pk]) for variant in supplier_variants
        ]
        orders.append(
            Order(
                number=f"SH{today:%Y%m%d}-{checkout.pk:07d}-{n}",
                checkout=checkout,
                agency=agency,
                supplier_id=supplier_id,
                agency_name=agency.name,
                agency_type=agency.type,
                agency_city=agency.city.name,
                recipient=shipping.recipient.strip(),
                phone=shipping.phone.strip(),
                address=shipping.address.strip(),
                ship_within_days=ship_within_days,
                latest_ship_date=today + timedelta(days=ship_within_days),
                subtotal=sum((line.line_total for line in lines), Decimal("0.00")),
            )
        )
        lines_of.append(lines)
    # One INSERT per table for the whole checkout: the variant locks are held until commit,
    # so every statement saved here shortens the queue on hot stock.
    Order.objects.bulk_create(validation.checked_rows(orders))
    for order, lines in zip(orders, lines_of, strict=True):
        for line in lines:
            line.order = order
    OrderLine.objects.bulk_create(
        validation.checked_rows(line for lines in lines_of for line in lines)
    )
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(order=order, kind="placed", to_status=order.status, actor=actor)
            for order in orders
        ]
    )
    return orders


def _line(variant: ProductVariant, quantity: int, tiers: list[TierPrice]) -> OrderLine:
    """A line with what the buyer saw snapshotted, at the tier price for its quantity."""
    price = unit_price_for(variant, tiers, quantity)
    product = variant.product
    return OrderLine(
        variant=variant,
        product=product,
        sku=variant.sku,
        product_name=product.name,
        spec=variant.spec,
        unit=variant.unit,
        unit_price=price,
        quantity=quantity,
        line_total=quantize_cny(price * quantity),
        supplier_name=product.supplier.name,
        supplier_credit_code=product.supplier.credit_code,
        origin_county_code=product.origin_county.code,
        origin_county_name=product.origin_county.name,
        category_name=product.category.name,
    )


def _replay(checkout: Checkout, payload_hash: str) -> list[Order]:
    if checkout.payload_hash != payload_hash:
        raise DomainError(
            "This idempotency key was used for a different checkout.",
            code=ProcurementErrorCode.IDEMPOTENCY_KEY_REUSED,
            field="idempotencyKey",
        )
    return list(checkout.orders.order_by("id"))


def checkout_create(
    *,
    acting_user: Any,
    lines: list[CheckoutLine],
    shipping: ShippingAddress,
    idempotency_key: str,
    ship_within_days: int = 7,
) -> list[Order]:
    """Place an agency's basket as one order per supplier (see the module docstring)."""
    require_role(acting_user, Role.AGENCY)
    agency = acting_user.agency
    if agency is None or not agency.is_active:
        raise DomainError(
            "This account's agency is not active.", code=ProcurementErrorCode.AGENCY_INACTIVE
        )
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 128:
        raise DomainError(
            "The idempotency key is 8 to 128 characters (a UUID is a good choice).",
            code=ProcurementErrorCode.INVALID,
            field="idempotencyKey",
        )
    wanted = _check_request(lines, shipping, ship_within_days)
    payload_hash = _payload_hash(lines, shipping, ship_within_days)
    existing = Checkout.objects.filter(agency=agency, idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, payload_hash)
    try:
        with transaction.atomic():
            # A concurrent request with the same key waits here on the unique index until
            # this one commits, then fails and replays it.
            checkout = Checkout.objects.create(
                agency=agency, placed_by=acting_user, idempotency_key=key, payload_hash=payload_hash
            )
            variants = _reserve(lines, wanted)
            orders = _place_orders(
                checkout, wanted, variants, shipping, ship_within_days, acting_user
            )
            audit_record_many(
                actor=acting_user,
                action="order.place",
                targets=orders,
                data_of=lambda order: {"subtotal": str(order.subtotal)},
            )
    except IntegrityError:
        existing = Checkout.objects.filter(agency=agency, idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, payload_hash)
    return orders
