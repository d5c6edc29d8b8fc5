"""Checkout: an agency's basket becomes one order per supplier, all or nothing.

The basket is read, checked and priced before the transaction, without locks. The transaction
inserts the checkout (its idempotency key), share-locks the suppliers (a concurrent suspension
waits for this checkout and then cancels its orders), inserts the orders, lines, events and audit
events, and only then takes the stock: one UPDATE that locks the variant rows in id order (so two
checkouts never deadlock) and decrements each where enough is left. A row it could not decrement
means another checkout got there first: the whole checkout rolls back with INSUFFICIENT_STOCK.
So the hot rows (everybody's favourite products) are locked from that statement to COMMIT only,
not while the rest is built. A retry with the same idempotency key returns the orders of the
first request and creates nothing (the key is looked up only when the INSERT of the checkout
meets it, or when the basket is refused).
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, QuerySet
from django.utils import timezone

from catalog import version as catalog_version
from catalog.models import ProductVariant, SupplierStatus, TierPrice, sellable_condition
from procurement import membership, notifications
from procurement.access import POLICIES
from procurement.errors import ProcurementErrorCode
from procurement.models import SHIP_WITHIN_DAYS, Agency, Checkout, Order, OrderLine, OrderStatus
from procurement.services import budgets
from procurement.services.orders import record_order_event
from shop.core import validation
from shop.core.audit import audit_record_many
from shop.core.bulk import insert_rows
from shop.core.compiled import CompiledQuery, date_marker, ids_marker
from shop.core.errors import DomainError, DomainErrors
from shop.core.metrics import count_checkout_conflicts
from shop.core.money import quantize_cny
from shop.core.permissions import require_role

MAX_LINE_QUANTITY = 1_000_000
MAX_LINES = 200
ADDRESS_MAX_LENGTH = Order._meta.get_field("address").max_length


@dataclass(frozen=True)
class CheckoutLine:
    variant_id: int | None
    quantity: int
    # Where this line is delivered, when not to the checkout's address (a spreadsheet basket's
    # per-line address): the line goes into an order of its own supplier and address.
    address: str = ""


@dataclass(frozen=True)
class LineProblem:
    """Why a variant cannot be bought in a quantity; `field` is the line's field at fault."""

    code: ProcurementErrorCode
    message: str
    field: str


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


def payload_hash_of(
    lines: list[CheckoutLine], shipping: ShippingAddress, ship_within_days: int, budget_line: str
) -> str:
    payload: dict[str, Any] = {
        # A line's own address only when it has one, so the hashes of checkouts without any
        # (every checkoutCreate) are those they always were.
        "lines": sorted(
            [line.variant_id or 0, line.quantity, *([line.address] if line.address else [])]
            for line in lines
        ),
        "shipping": [shipping.recipient, shipping.phone, shipping.address],
        "shipWithinDays": ship_within_days,
    }
    if budget_line:  # absent otherwise: the hashes of checkouts stored before lines existed hold
        payload["budgetLine"] = budget_line
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def check_request(
    lines: list[CheckoutLine],
    shipping: ShippingAddress,
    ship_within_days: int,
    max_lines: int = MAX_LINES,
) -> dict[int, int]:
    """Shape checks that need no locks; returns quantity per variant id (repeats merged)."""
    if not lines:
        raise DomainError("The basket is empty.", code=ProcurementErrorCode.NO_LINES, field="lines")
    if len(lines) > max_lines:
        raise DomainError(
            f"At most {max_lines} lines.", code=ProcurementErrorCode.INVALID, field="lines"
        )
    errors: list[DomainError] = []
    wanted: dict[int, int] = defaultdict(int)
    address_of: dict[int, str] = {}
    for index, line in enumerate(lines):
        problem = validation.text_problem(line.address, ADDRESS_MAX_LENGTH)
        if problem:
            errors.append(
                DomainError(
                    problem, code=ProcurementErrorCode.INVALID, field=f"lines.{index}.address"
                )
            )
        elif address_of.setdefault(line.variant_id or 0, line.address) != line.address:
            # One variant is one order line: its repeats are merged, so they cannot go to
            # two places.
            errors.append(
                DomainError(
                    "A product variant repeated in the basket has one delivery address.",
                    code=ProcurementErrorCode.INVALID,
                    field=f"lines.{index}.address",
                )
            )
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


def _not_found(lines: list[CheckoutLine], variant_id: int) -> DomainError:
    return DomainError(
        "No such product variant.",
        code=ProcurementErrorCode.VARIANT_NOT_FOUND,
        field=_field_of(lines, variant_id, "variantId"),
    )


def _not_sellable(lines: list[CheckoutLine], variant: ProductVariant) -> DomainError:
    return DomainError(
        f"{variant.product.name} is not on sale.",
        code=ProcurementErrorCode.NOT_SELLABLE,
        field=_field_of(lines, variant.pk, "variantId"),
    )


def _insufficient(lines: list[CheckoutLine], variant: ProductVariant, stock: int) -> DomainError:
    return _error(lines, variant.pk, _short(variant, stock))


def variants_with_sellable(variants: QuerySet, today: date | None = None) -> QuerySet:
    """`variants` with what the checkout rules read: product, supplier, county and category,
    and whether the product can be sold `today` (default: today) (`sellable`)."""
    condition = sellable_condition(today or timezone.localdate(), product="product__")
    return variants.select_related(
        "product__supplier", "product__origin_county", "product__category"
    ).annotate(
        # NULL (an unset certification date) reads as not sellable, as the filter would
        sellable=ExpressionWrapper(condition, output_field=BooleanField())
    )


def line_problem(variant: ProductVariant, quantity: int) -> LineProblem | None:
    """The rule a checkout line meets before any lock: the variant (read through
    `variants_with_sellable`) can be sold, in at least its minimum quantity, and there was
    enough stock when read. Stock and the supplier's status are checked again under locks."""
    product = variant.product
    if not variant.sellable:
        supplier = product.supplier
        why = (
            f"its supplier is {SupplierStatus(supplier.status).label}"
            if supplier.status != SupplierStatus.ADMITTED
            else "it is not certified, expired or unpublished"
        )
        return LineProblem(
            ProcurementErrorCode.NOT_SELLABLE,
            f"{product.name} is not on sale ({why}).",
            "variantId",
        )
    if quantity < variant.minimum_order_quantity:
        return LineProblem(
            ProcurementErrorCode.BELOW_MINIMUM_QUANTITY,
            f"{product.name} {variant.spec}: the minimum order is "
            f"{variant.minimum_order_quantity} {variant.unit}.",
            "quantity",
        )
    if quantity > variant.stock:
        return _short(variant, variant.stock)
    return None


def _short(variant: ProductVariant, stock: int) -> LineProblem:
    return LineProblem(
        ProcurementErrorCode.INSUFFICIENT_STOCK,
        f"{variant.product.name} {variant.spec}: only {stock} {variant.unit} left.",
        "quantity",
    )


def _error(lines: list[CheckoutLine], variant_id: int, problem: LineProblem) -> DomainError:
    return DomainError(
        problem.message, code=problem.code, field=_field_of(lines, variant_id, problem.field)
    )


# What `line_problem`, `_line` and the refusals read of a variant (a product's description and
# the like would be read and built for nothing). A column missing here costs a query per line,
# which the pinned statement counts of the checkout tests show.
_BASKET_COLUMNS = (
    "sku",
    "spec",
    "unit",
    "unit_price",
    "stock",
    "minimum_order_quantity",
    "product__name",
    "product__supplier__name",
    "product__supplier__status",
    "product__supplier__credit_code",
    "product__origin_county__code",
    "product__origin_county__name",
    "product__category__name",
)


def basket_variants(ids: list[int], today: date) -> QuerySet:
    """The basket's variants as a checkout reads them (`variants_with_sellable` on `today`)."""
    read = variants_with_sellable(ProductVariant.objects.filter(pk__in_ids=ids), today)
    return read.only(*_BASKET_COLUMNS).order_by()  # by id below: no sort needed


# Every checkout makes these two reads: compiled once per process (shop/core/compiled.py).
_BASKET_READ = CompiledQuery(
    ProductVariant, basket_variants, ids=ids_marker(0), today=date_marker(0)
)
_TIERS_READ = CompiledQuery(
    TierPrice,
    lambda ids: TierPrice.objects.filter(variant_id__in_ids=ids).order_by(),
    ids=ids_marker(0),
)


def _read_variants(lines: list[CheckoutLine], wanted: dict[int, int]) -> dict[int, ProductVariant]:
    """Read the variants without locking them and check `line_problem` for each."""
    read = _BASKET_READ.instances(ids=list(wanted), today=timezone.localdate())
    variants = {v.pk: v for v in read}
    errors: list[DomainError] = []
    for variant_id, quantity in wanted.items():
        variant = variants.get(variant_id)
        problem = line_problem(variant, quantity) if variant is not None else None
        if variant is None:
            errors.append(_not_found(lines, variant_id))
        elif problem is not None:
            errors.append(_error(lines, variant_id, problem))
    if errors:
        _refuse(errors)
    return variants


def _refuse(errors: list[DomainError]) -> None:
    """Raise the checkout's refusals, counting the stock conflicts among them for /metrics
    (the counter is the process's, not the transaction's: the refusal is the event, whether
    seen before the transaction or under the stock locks)."""
    count_checkout_conflicts(
        [e.code for e in errors if e.code == ProcurementErrorCode.INSUFFICIENT_STOCK]
    )
    raise DomainErrors(errors)


def _share_lock_suppliers(
    lines: list[CheckoutLine], wanted: dict[int, int], variants: dict[int, ProductVariant]
) -> None:
    """Share-lock the suppliers and check they are still admitted. A suspension takes the
    supplier FOR UPDATE and then cancels its open orders: it waits for this checkout to commit
    (and cancels its orders too), or it committed first and this reads its new status."""
    if connection.vendor != "postgresql":
        return  # SQLite runs one writer at a time: the read before the transaction holds
    supplier_ids = sorted({v.product.supplier_id for v in variants.values()})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status FROM catalog_supplier WHERE id = ANY(%s) ORDER BY id FOR SHARE",
            [supplier_ids],
        )
        withdrawn = {pk for pk, status in cursor.fetchall() if status != SupplierStatus.ADMITTED}
    if withdrawn:
        raise DomainErrors(
            [
                _not_sellable(lines, variant)
                for variant in (variants[variant_id] for variant_id in wanted)
                if variant.product.supplier_id in withdrawn
            ]
        )


# Take the stock of every line in one statement: lock the rows in id order first (the FROM
# subquery: ORDER BY + FOR NO KEY UPDATE, so two checkouts never deadlock), then decrement where
# enough is left. NO KEY UPDATE, not UPDATE: the order lines' foreign keys key-share-lock the same
# rows in other checkouts, and FOR UPDATE would queue behind each of those until it commits.
_TAKE_STOCK = """
UPDATE catalog_productvariant AS v
   SET stock = v.stock - w.quantity
  FROM (SELECT id FROM catalog_productvariant WHERE id = ANY(%s)
        ORDER BY id FOR NO KEY UPDATE) AS locked,
       unnest(%s::bigint[], %s::integer[]) AS w(id, quantity)
 WHERE v.id = locked.id AND w.id = locked.id AND v.stock >= w.quantity
RETURNING v.id
"""


def _take_stock(
    lines: list[CheckoutLine],
    wanted: dict[int, int],
    variants: dict[int, ProductVariant],
    *,
    commits_next: bool,
) -> None:
    """Decrement the stock of every line, or raise (and so roll back) if any is short now.

    The last statement of the checkout's transaction, so the hot rows' locks are held only
    from here to COMMIT (`commits_next`: the checkout's transaction is not nested in another)."""
    ids = sorted(wanted)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if commits_next:
                # Django's foreign keys are checked at COMMIT (DEFERRABLE INITIALLY DEFERRED):
                # some fifty checks for a 10-line checkout, run while the stock rows would be
                # locked. Check them now, before. (Not in a caller's transaction: the mode
                # would last to its end.)
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                *catalog_version.with_bump(_TAKE_STOCK, [ids, ids, [wanted[i] for i in ids]])
            )
            taken = {row[0] for row in cursor.fetchall()}
    else:
        taken = set()
        for variant_id in ids:
            if ProductVariant.objects.filter(pk=variant_id, stock__gte=wanted[variant_id]).update(
                stock=F("stock") - wanted[variant_id]
            ):
                taken.add(variant_id)
    if len(taken) == len(ids):
        return
    # Another checkout took the stock since it was read (or the variant is gone). Every row
    # that exists is locked by this transaction now, so these are the figures it lost to.
    stock_now = dict(ProductVariant.objects.filter(pk__in=ids).values_list("pk", "stock"))
    errors = []
    for variant_id in wanted:
        if variant_id not in stock_now:
            errors.append(_not_found(lines, variant_id))
        elif variant_id not in taken:
            errors.append(_insufficient(lines, variants[variant_id], stock_now[variant_id]))
    _refuse(errors)


def _build_orders(
    agency: Any,
    wanted: dict[int, int],
    variants: dict[int, ProductVariant],
    shipping: ShippingAddress,
    ship_within_days: int,
    address_of: dict[int, str],
) -> list[tuple[Order, list[OrderLine]]]:
    """The orders (one per supplier and delivery address) and their priced lines, before any
    lock is taken. `address_of`: a variant's own address, where it has one."""
    tiers = tiers_of(wanted)
    by_order: dict[tuple[int, str], list[ProductVariant]] = defaultdict(list)
    for variant_id in sorted(wanted):
        address = (address_of.get(variant_id) or shipping.address).strip()
        by_order[variants[variant_id].product.supplier_id, address].append(variants[variant_id])
    today = timezone.localdate()
    built = []
    for (supplier_id, address), supplier_variants in sorted(by_order.items()):
        lines = [
            _line(variant, wanted[variant.pk], tiers[variant.pk]) for variant in supplier_variants
        ]
        order = Order(
            agency=agency,
            supplier_id=supplier_id,
            agency_name=agency.name,
            agency_type=agency.type,
            agency_city=agency.city.name,
            recipient=shipping.recipient.strip(),
            phone=shipping.phone.strip(),
            address=address,
            ship_within_days=ship_within_days,
            latest_ship_date=today + timedelta(days=ship_within_days),
            subtotal=sum((line.line_total for line in lines), Decimal("0.00")),
        )
        built.append((order, lines))
    return built


def tiers_of(variant_ids: Iterable[int]) -> dict[int, list[TierPrice]]:
    """The tier prices of the variants, by variant id (one query)."""
    tiers: dict[int, list[TierPrice]] = defaultdict(list)
    ids = list(variant_ids)
    if not ids:
        return tiers  # as `__in_ids`: no ids, no query
    # unordered: `unit_price_for` sorts a variant's tiers
    for tier in _TIERS_READ.instances(ids=ids):
        tiers[tier.variant_id].append(tier)
    return tiers


def _place_orders(
    checkout: Checkout, built: list[tuple[Order, list[OrderLine]]], actor: Any
) -> list[Order]:
    """Insert the orders, their lines and events: one INSERT per table for the whole checkout."""
    today = timezone.localdate()
    orders = [order for order, _lines in built]
    for n, order in enumerate(orders, start=1):
        order.number = f"SH{today:%Y%m%d}-{checkout.pk:07d}-{n}"
        order.checkout = checkout
    insert_rows(validation.checked_rows(orders))
    for order, lines in built:
        for line in lines:
            line.order = order
    insert_rows(validation.checked_rows(line for _o, lines in built for line in lines))
    record_order_event(*orders, kind="placed", to_status=OrderStatus.PLACED, actor=actor)
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
        raise key_reused()
    return list(checkout.orders.order_by("id"))


def key_reused() -> DomainError:
    return DomainError(
        "This idempotency key was used for a different checkout.",
        code=ProcurementErrorCode.IDEMPOTENCY_KEY_REUSED,
        field="idempotencyKey",
    )


# The checkout an approval places is keyed by its purchase request; a buyer's own keys cannot
# take that shape, so a retried approval and a buyer's checkout never meet on one key.
APPROVAL_KEY_PREFIX = "purchase-request/"


def checked_key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 128 or key.startswith(APPROVAL_KEY_PREFIX):
        raise DomainError(
            "The idempotency key is 8 to 128 characters (a UUID is a good choice).",
            code=ProcurementErrorCode.INVALID,
            field="idempotencyKey",
        )
    return key


def active_agency(acting_user: Any, *, policy: str) -> Agency:
    """The active agency `acting_user` acts for, if `policy` (a mutation of POLICIES) lets
    them act."""
    require_role(acting_user, *POLICIES[policy])
    agency = acting_user.agency
    if agency is None or not agency.is_active:
        raise DomainError(
            "This account's agency is not active.", code=ProcurementErrorCode.AGENCY_INACTIVE
        )
    return agency


def buying_agency(acting_user: Any, *, policy: str) -> Agency:
    """The active agency `acting_user` buys for, if they may buy for it through `policy`."""
    agency = active_agency(acting_user, policy=policy)
    can_buy, _can_approve = membership.duties_of(acting_user)
    if not can_buy:
        raise DomainError(
            "This account does not buy for its agency (ask for the buyer duty).",
            code=ProcurementErrorCode.NOT_A_BUYER,
        )
    return agency


@dataclass
class Basket:
    """A checked and priced basket, read without locks: what a checkout or an approval places."""

    lines: list[CheckoutLine]
    wanted: dict[int, int]
    variants: dict[int, ProductVariant]
    built: list[tuple[Order, list[OrderLine]]]

    @property
    def total(self) -> Decimal:
        return sum((order.subtotal for order, _lines in self.built), Decimal("0.00"))


def priced_basket(
    agency: Agency,
    lines: list[CheckoutLine],
    wanted: dict[int, int],
    shipping: ShippingAddress,
    ship_within_days: int,
) -> Basket:
    """Everything that needs no lock: read, check and price the basket (`wanted` from
    `check_request`)."""
    variants = _read_variants(lines, wanted)
    address_of = {line.variant_id: line.address for line in lines if line.address}
    built = _build_orders(agency, wanted, variants, shipping, ship_within_days, address_of)
    return Basket(lines, wanted, variants, built)


def place_basket(
    checkout: Checkout, basket: Basket, *, actor: Any, commits_next: bool
) -> list[Order]:
    """In the caller's transaction, just after it inserted `checkout`: charge the budgets, then
    place the orders and take the stock, last (see the module docstring). All or nothing: a
    refusal raises and rolls the caller's transaction back."""
    budgets.charge(checkout.agency_id, line=checkout.budget_line, amount=basket.total)
    _share_lock_suppliers(basket.lines, basket.wanted, basket.variants)
    orders = _place_orders(checkout, basket.built, actor)
    audit_record_many(
        actor=actor,
        action="order.place",
        targets=orders,
        data_of=lambda order: {"subtotal": str(order.subtotal)},
    )
    notifications.orders_placed((order, lines[0].supplier_name) for order, lines in basket.built)
    # Last: the hot rows are locked from here to COMMIT only.
    _take_stock(basket.lines, basket.wanted, basket.variants, commits_next=commits_next)
    return orders


def checkout_create(
    *,
    acting_user: Any,
    lines: list[CheckoutLine],
    shipping: ShippingAddress,
    idempotency_key: str,
    ship_within_days: int = 7,
    max_lines: int = MAX_LINES,
    budget_line: str = "",
) -> list[Order]:
    """Place an agency's basket as one order per supplier (and delivery address: see
    `CheckoutLine.address`); see the module docstring. `max_lines`: a spreadsheet basket may
    hold more lines than one API request. Above the agency's approval threshold it is refused
    with APPROVAL_REQUIRED: submit it with `purchase_request_create` instead
    (docs/approvals.md)."""
    agency = buying_agency(acting_user, policy="checkoutCreate")
    key = checked_key(idempotency_key)
    wanted = check_request(lines, shipping, ship_within_days, max_lines)
    line = budgets.checked_line(agency.pk, budget_line) if budget_line else ""
    payload_hash = payload_hash_of(lines, shipping, ship_within_days, line)
    # No look-up of the key first: a first request (nearly every one) would pay a statement
    # for nothing. A retry is recognised when its basket is refused (the first request took
    # the stock, say) or when its checkout row meets the first one's on the unique index.
    try:
        basket = priced_basket(agency, lines, wanted, shipping, ship_within_days)
        if agency.approval_threshold is not None and basket.total > agency.approval_threshold:
            raise DomainError(
                f"Purchases above ¥{agency.approval_threshold} need an approver: submit this "
                f"basket (¥{basket.total}) as a purchase request (purchaseRequestCreate).",
                code=ProcurementErrorCode.APPROVAL_REQUIRED,
            )
    except DomainError:
        existing = Checkout.objects.filter(agency=agency, idempotency_key=key).first()
        if existing is not None:
            return _replay(existing, payload_hash)
        raise
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            # A concurrent request with the same key waits here on the unique index until
            # this one commits, then fails and replays it.
            (checkout,) = insert_rows(
                validation.checked_rows(
                    [
                        Checkout(
                            agency=agency,
                            placed_by=acting_user,
                            idempotency_key=key,
                            payload_hash=payload_hash,
                            budget_line=line,
                        )
                    ]
                )
            )
            return place_basket(checkout, basket, actor=acting_user, commits_next=outermost)
    except IntegrityError:
        existing = Checkout.objects.filter(agency=agency, idempotency_key=key).first()
        if existing is None:
            raise
        return _replay(existing, payload_hash)
