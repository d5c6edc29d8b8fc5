"""Agencies (operator-managed) and their reserved-share plans (预留份额)."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from catalog.models import City
from procurement.access import POLICIES, agency_for
from procurement.errors import ProcurementErrorCode
from procurement.models import Agency, AgencyType, ReservedSharePlan
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, DomainErrors
from shop.core.money import quantize_cny
from shop.core.permissions import require_role

MIN_RESERVED_RATIO = Decimal("0.10")


@dataclass
class AgencyInput:
    name: str
    credit_code: str
    type: str
    city_id: int | None
    district: str = ""
    contact_name: str = ""
    contact_phone: str = ""


@transaction.atomic
def agency_create(*, acting_user: Any, data: AgencyInput) -> Agency:
    """An operator registers a Fujian buyer."""
    require_role(acting_user, *POLICIES["agencyCreate"])
    errors: list[DomainError] = []
    code = ""
    try:
        code = validation.credit_code(
            data.credit_code, field="creditCode", code=ProcurementErrorCode.INVALID_CREDIT_CODE
        )
    except DomainError as error:
        errors.append(
            DomainError(
                error.message, code=ProcurementErrorCode.INVALID_CREDIT_CODE, field="creditCode"
            )
        )
    if not (data.name or "").strip():
        errors.append(
            DomainError("A name is required.", code=ProcurementErrorCode.REQUIRED, field="name")
        )
    if data.type not in AgencyType.values:
        errors.append(
            DomainError("Unknown agency type.", code=ProcurementErrorCode.INVALID, field="type")
        )
    city = City.objects.filter(pk=data.city_id).first()
    if city is None:
        errors.append(
            DomainError("No such Fujian city.", code=ProcurementErrorCode.NOT_FOUND, field="cityId")
        )
    if code and Agency.objects.filter(credit_code=code).exists():
        errors.append(
            DomainError(
                "An agency with this credit code exists.",
                code=ProcurementErrorCode.UNIQUE,
                field="creditCode",
            )
        )
    if errors:
        raise DomainErrors(errors)
    try:
        with transaction.atomic():
            agency = Agency.objects.create(
                name=data.name.strip(),
                credit_code=code,
                type=data.type,
                city=city,
                district=(data.district or "").strip(),
                contact_name=(data.contact_name or "").strip(),
                contact_phone=(data.contact_phone or "").strip(),
            )
    except IntegrityError as error:
        raise DomainError(
            "An agency with this credit code exists.",
            code=ProcurementErrorCode.UNIQUE,
            field="creditCode",
        ) from error
    audit_record(actor=acting_user, action="agency.create", target=agency)
    return agency


@transaction.atomic
def reserved_share_plan_set(
    *,
    acting_user: Any,
    agency_id: int | None,
    year: int,
    canteen_total: Any,
    ratio: Any,
    no_canteen: bool = False,
) -> ReservedSharePlan:
    """File (or correct) a year's plan: reserved = canteen total × ratio, ratio ≥ 10% unless
    the unit has no canteen (then nothing is reserved). The agency's own buyers or an operator."""
    agency = agency_for(acting_user, agency_id, roles=POLICIES["reservedSharePlanSet"])
    if not 2021 <= year <= 2100:
        raise DomainError(
            "The year is out of range.", code=ProcurementErrorCode.INVALID, field="year"
        )
    if no_canteen:
        total, share = Decimal("0.00"), Decimal("0")
    else:
        total = validation.money(
            canteen_total,
            column=validation.column(ReservedSharePlan, "canteen_total"),
            field="canteenTotal",
            code=ProcurementErrorCode.INVALID_AMOUNT,
        )
        share = validation.decimal_number(ratio)
        if share is None or share < MIN_RESERVED_RATIO or share > 1:
            raise DomainError(
                "The reserved ratio is at least 10% (0.10) and at most 100%.",
                code=ProcurementErrorCode.RATIO_TOO_LOW,
                field="ratio",
            )
    plan, _created = ReservedSharePlan.objects.update_or_create(
        agency=agency,
        year=year,
        defaults={"canteen_total": quantize_cny(total), "ratio": share, "no_canteen": no_canteen},
    )
    audit_record(
        actor=acting_user,
        action="agency.reserved_share_set",
        target=agency,
        data={
            "year": year,
            "canteenTotal": str(total),
            "ratio": str(share),
            "noCanteen": no_canteen,
        },
    )
    return plan
