"""Trace batches (溯源批次) and the households that supplied them (供货农户台账)."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog import access
from catalog.errors import CatalogErrorCode
from catalog.models import County, FarmerSupply, HouseholdStatus, LinkageKind, TraceBatch
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import BadUserInput, DomainError, FieldErrors
from shop.core.money import quantize_cny


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
    errors = FieldErrors()
    for n, item in enumerate(items, start=1):
        if not item.household.strip() or not item.village.strip():
            errors.add(
                f"Household {n}: name and village are required.",
                CatalogErrorCode.REQUIRED,
                "households",
            )
        if item.linkage not in LinkageKind.values:
            errors.add(
                f"Household {n}: unknown linkage kind.", CatalogErrorCode.INVALID, "households"
            )
        if item.poverty_status not in HouseholdStatus.values:
            errors.add(
                f"Household {n}: unknown poverty status.", CatalogErrorCode.INVALID, "households"
            )
        try:
            validation.money(
                item.amount_paid,
                column=validation.column(FarmerSupply, "amount_paid"),
                sign="nonnegative",
            )
        except BadUserInput as error:
            errors.add(f"Household {n}: {error}", CatalogErrorCode.INVALID, "households")
    return errors


@transaction.atomic
def trace_batch_create(
    *, acting_user: Any, product_id: int | None, data: TraceBatchInput
) -> TraceBatch:
    """Record a production batch (溯源批次) with its supplying households (供货农户台账)."""
    product = access.own_product(acting_user, product_id)
    errors = FieldErrors()
    code = (data.code or "").strip()
    if not code:
        errors.add("A batch code is required.", CatalogErrorCode.REQUIRED, "code")
    elif TraceBatch.objects.filter(code=code).exists():
        errors.add("This batch code is already used.", CatalogErrorCode.UNIQUE, "code")
    county = County.objects.filter(pk=data.origin_county_id).first()
    if county is None or not county.is_ningxia:
        errors.add(
            "The origin must be a Ningxia county.",
            CatalogErrorCode.COUNTY_NOT_IN_NINGXIA,
            "originCountyId",
        )
    if data.produced_on > timezone.localdate():
        errors.add("The production date is in the future.", CatalogErrorCode.INVALID, "producedOn")
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
            errors.add(
                "No such inspection report for this product.",
                CatalogErrorCode.NOT_FOUND,
                "inspectionReportId",
            )
    errors += _clean_households(data.households)
    errors.raise_any()
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
