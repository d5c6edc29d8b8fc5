"""Spreadsheet baskets (docs/spreadsheet-baskets.md): an agency uploads a CSV or XLSX of SKU,
quantity and, optionally, a delivery address per row; every row is resolved to a variant and
priced, or refused with its reason, and the preview is kept. Nothing is reserved until the
preview is checked out, which goes through `checkout.checkout_create` like any basket: the same
rules, all or nothing, idempotent.

The preview reads the catalog in a fixed number of queries whatever the number of rows (the
variants by SKU, their tier prices), and writes the upload and its lines in one INSERT each.
"""

import hashlib
from decimal import Decimal
from typing import Any

from django.db import transaction

from catalog.models import ProductVariant
from procurement import basket_files, selectors
from procurement.basket_files import BasketRow, RowProblem
from procurement.errors import ProcurementErrorCode
from procurement.models import BasketPreviewLine, BasketUpload, Order
from procurement.services import checkout
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, DomainErrors, NotFound
from shop.core.money import quantize_cny

FILE_NAME_MAX_LENGTH = 255
# A checkout line's field as the preview names it.
ROW_FIELDS = {"variantId": "sku", "quantity": "quantity", "address": "deliveryAddress"}


def basket_upload(*, acting_user: Any, file_name: str, data: bytes) -> BasketUpload:
    """Read the file and keep its preview (agency buyers). A file that cannot be read as a
    basket is refused and nothing is kept; a readable one is kept with its rows' errors."""
    agency = checkout.buying_agency(acting_user, policy="basketUpload")
    sheet = basket_files.read_basket(data)
    lines = preview_lines(sheet.rows)
    with transaction.atomic():
        upload = BasketUpload.objects.create(
            agency=agency,
            uploaded_by=acting_user,
            file_name=validation.CONTROL_CHARACTERS.sub("\ufffd", file_name or "")[
                :FILE_NAME_MAX_LENGTH
            ]
            or "basket",
            file_format=sheet.file_format,
            sha256=hashlib.sha256(data).hexdigest(),
            row_count=len(lines),
            error_count=sum(1 for line in lines if line.error_code),
            total=sum((line.line_total or Decimal("0.00") for line in lines), Decimal("0.00")),
        )
        for line in lines:
            line.upload = upload
        BasketPreviewLine.objects.bulk_create(validation.checked_rows(lines))
    return upload


def preview_lines(rows: list[BasketRow]) -> list[BasketPreviewLine]:
    """Each row resolved and priced by the checkout's own rules (`checkout.line_problem`,
    `checkout.unit_price_for`), or refused: the reader's problem, a SKU on an earlier row, an
    unknown SKU, or the checkout's refusal. Two queries, whatever the number of rows."""
    skus = {row.sku for row in rows if row.problem is None}
    variants = {
        v.sku: v
        for v in checkout.variants_with_sellable(ProductVariant.objects.filter(sku__in=skus))
    }
    tiers = checkout.tiers_of(v.pk for v in variants.values())
    first_row: dict[str, int] = {}
    lines = []
    for row in rows:
        line = BasketPreviewLine(
            row_number=row.number,
            sku=row.sku,
            quantity=row.quantity,
            delivery_address=row.address,
        )
        problem = row.problem
        variant = variants.get(row.sku)
        if problem is None and row.sku in first_row:
            problem = RowProblem(
                ProcurementErrorCode.DUPLICATE_ROW,
                "sku",
                f"{row.sku} is already on row {first_row[row.sku]}; one row per SKU.",
            )
        elif problem is None and variant is None:
            problem = RowProblem(
                ProcurementErrorCode.VARIANT_NOT_FOUND, "sku", f"No product has SKU {row.sku}."
            )
        if problem is None:
            first_row[row.sku] = row.number
            shared = checkout.line_problem(variant, row.quantity)
            if shared is not None:
                problem = RowProblem(shared.code, ROW_FIELDS[shared.field], shared.message)
        if variant is not None:
            product = variant.product
            line.variant = variant
            line.product_name, line.spec, line.unit = product.name, variant.spec, variant.unit
        if problem is None:
            line.unit_price = checkout.unit_price_for(variant, tiers[variant.pk], row.quantity)
            line.line_total = quantize_cny(line.unit_price * row.quantity)
        else:
            line.error_code, line.error_field = problem.code, problem.field
            line.error_message = f"Row {row.number}: {problem.message}"
        lines.append(line)
    return lines


def _own_upload(acting_user: Any, upload_id: int | None) -> BasketUpload:
    """The caller's agency's upload, locked for the rest of the transaction."""
    uploads = selectors.basket_uploads_visible_to(acting_user=acting_user)
    upload = uploads.select_for_update().filter(pk=upload_id).first()
    if upload is None:
        # Another agency's upload is answered like one that does not exist.
        raise NotFound("No such basket upload.", field="uploadId")
    return upload


def basket_checkout(
    *,
    acting_user: Any,
    upload_id: int | None,
    shipping: checkout.ShippingAddress,
    idempotency_key: str,
    ship_within_days: int = 7,
    budget_line: str = "",
) -> list[Order]:
    """Check out a preview with no errors, as `checkout_create` does a basket (its rules
    included: above the agency's approval threshold it is refused with APPROVAL_REQUIRED, and
    the budget is charged): all or nothing, idempotent. A row's own delivery address puts its
    line in an order of its own (supplier × address); the other rows go to `shipping.address`.
    An upload is checked out once: the upload row is locked for the checkout and then records
    it, so a second checkout with another key is refused, and a retry with the same key
    returns the same orders."""
    checkout.buying_agency(acting_user, policy="basketCheckout")
    with transaction.atomic():
        upload = _own_upload(acting_user, upload_id)
        if upload.error_count:
            raise DomainError(
                f"{upload.error_count} row(s) have errors; correct the file and upload it again.",
                code=ProcurementErrorCode.BASKET_HAS_ERRORS,
                field="uploadId",
            )
        if upload.checkout_id and upload.checkout.idempotency_key != idempotency_key.strip():
            raise DomainError(
                "This basket was already checked out.",
                code=ProcurementErrorCode.BASKET_ALREADY_CHECKED_OUT,
                field="uploadId",
            )
        rows = list(upload.lines.order_by("row_number"))
        try:
            orders = checkout.checkout_create(
                acting_user=acting_user,
                lines=[
                    checkout.CheckoutLine(row.variant_id, row.quantity or 0, row.delivery_address)
                    for row in rows
                ],
                shipping=shipping,
                idempotency_key=idempotency_key,
                ship_within_days=ship_within_days,
                max_lines=basket_files.MAX_BASKET_ROWS,
                budget_line=budget_line,
            )
        except DomainError as error:
            raise DomainErrors([_on_row(e, rows) for e in error.as_errors()]) from error
        if upload.checkout_id is None:
            upload.checkout = orders[0].checkout
            upload.save(update_fields=["checkout"])
            audit_record(
                actor=acting_user,
                action="basket.checkout",
                target=upload,
                data={"orders": [order.number for order in orders]},
            )
    return orders


def _on_row(error: DomainError, rows: list[BasketPreviewLine]) -> DomainError:
    """A checkout error on `lines.<i>.<field>` said of the spreadsheet's row instead."""
    parts = (error.field or "").split(".")
    if len(parts) != 3 or parts[0] != "lines" or not parts[1].isdigit():
        return error
    row = rows[int(parts[1])]
    return DomainError(
        f"Row {row.row_number}: {error.message}",
        code=error.code,
        field=f"rows.{row.row_number}.{ROW_FIELDS.get(parts[2], parts[2])}",
    )
