"""Supplier admission and exit (质量准入和退出制度): apply, county recommendation, operator review,
suspend, reinstate, exit with optional blacklist, re-application."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog import hooks, notifications
from catalog.access import ADMIN_EDITORS, POLICIES
from catalog.documents import DocumentUpload, attach_document, verify_if_given
from catalog.errors import CatalogErrorCode
from catalog.membership import supplier_member_add
from catalog.models import (
    REQUIRED_QUALIFICATIONS,
    SUPPLIER_LIFECYCLE,
    BlacklistEntry,
    County,
    Qualification,
    QualificationKind,
    Supplier,
    SupplierKind,
    SupplierStatus,
)
from shop.accounts.models import Role
from shop.core import lifecycle, validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, DomainErrors, FieldErrors, InvalidTransition, NotFound
from shop.core.permissions import require_role

S = SupplierStatus


@dataclass
class QualificationInput:
    kind: str
    number: str
    expires_on: date
    issuer: str = ""


@dataclass
class SupplierApplication:
    name: str
    credit_code: str
    kind: str
    county_id: int | None
    legal_representative: str
    contact_name: str
    contact_phone: str
    contact_email: str = ""
    description: str = ""
    qualifications: list[QualificationInput] = field(default_factory=list)


# A supplier's own record: what it applies with and an operator may correct (the credit code
# and the county are checked on application and stay as applied).
APPLICATION_FIELDS = (
    "name",
    "kind",
    "legal_representative",
    "contact_name",
    "contact_phone",
    "contact_email",
    "description",
)
REQUIRED_RECORD_FIELDS = ("name", "legal_representative", "contact_name", "contact_phone")


def _today() -> date:
    return timezone.localdate()


def _locked_supplier(supplier_id: int | None) -> Supplier:
    supplier = Supplier.objects.select_for_update().filter(pk=supplier_id).first()
    if supplier is None:
        raise NotFound("No such supplier.")
    return supplier


def _require_reason(reason: str, field_name: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason.", code=CatalogErrorCode.REQUIRED, field=field_name)
    return reason


# --- Application ----------------------------------------------------------------------------


def _validate_application(data: SupplierApplication) -> tuple[str, County]:
    errors = FieldErrors()
    code = ""
    try:
        code = validation.credit_code(
            data.credit_code, field="creditCode", code=CatalogErrorCode.INVALID_CREDIT_CODE
        )
    except DomainError as error:
        errors.append(error)
    errors += record_errors({name: getattr(data, name) for name in APPLICATION_FIELDS})
    county = County.objects.filter(pk=data.county_id).first()
    if county is None:
        errors.add("No such county.", CatalogErrorCode.NOT_FOUND, "countyId")
    elif not county.is_ningxia:
        errors.add(
            f"{county} is not in Ningxia; suppliers must be registered in a Ningxia county.",
            CatalogErrorCode.COUNTY_NOT_IN_NINGXIA,
            "countyId",
        )
    errors += _qualification_errors(data.qualifications, require_all=True)
    if errors:
        raise DomainErrors(errors)
    return code, county


def record_errors(values: dict[str, Any]) -> list[DomainError]:
    """What is wrong with a supplier's own record (as applied, or as an operator corrects it):
    a required name left empty, an unknown kind."""
    errors = FieldErrors()
    for name in REQUIRED_RECORD_FIELDS:
        if name in values and not str(values[name] or "").strip():
            camel = "".join(p.title() if i else p for i, p in enumerate(name.split("_")))
            errors.add("This field is required.", CatalogErrorCode.REQUIRED, camel)
    if "kind" in values and values["kind"] not in SupplierKind.values:
        errors.add("Unknown supplier kind.", CatalogErrorCode.INVALID, "kind")
    return errors


def _qualification_errors(
    items: list[QualificationInput], *, require_all: bool
) -> list[DomainError]:
    errors = FieldErrors()
    today = _today()
    for item in items:
        if item.kind not in QualificationKind.values:
            errors.add("Unknown qualification kind.", CatalogErrorCode.INVALID, "qualifications")
        elif not (item.number or "").strip():
            errors.add(
                f"{QualificationKind(item.kind).label}: the number is required.",
                CatalogErrorCode.REQUIRED,
                "qualifications",
            )
        elif item.expires_on <= today:
            errors.add(
                f"{QualificationKind(item.kind).label} {item.number} expired on {item.expires_on}.",
                CatalogErrorCode.QUALIFICATION_EXPIRED,
                "qualifications",
            )
        else:
            validation.collecting(
                errors,
                validation.document_expiry,
                item.expires_on,
                today=today,
                field="qualifications",
                code=CatalogErrorCode.INVALID,
            )
    if require_all:
        given = {item.kind for item in items}
        for kind in REQUIRED_QUALIFICATIONS:
            if kind not in given:
                errors.add(
                    f"The application needs a {kind.label} ({kind.value}).",
                    CatalogErrorCode.MISSING_QUALIFICATION,
                    "qualifications",
                )
    return errors


def _add_qualifications(supplier: Supplier, items: list[QualificationInput]) -> list[Qualification]:
    return Qualification.objects.bulk_create(
        validation.checked_rows(
            Qualification(
                supplier=supplier,
                kind=item.kind,
                number=item.number.strip(),
                issuer=(item.issuer or "").strip(),
                expires_on=item.expires_on,
            )
            for item in items
        )
    )


def _check_may_apply(code: str) -> None:
    if BlacklistEntry.objects.filter(credit_code=code).exists():
        raise DomainError(
            "This credit code is blacklisted and may not apply.",
            code=CatalogErrorCode.BLACKLISTED,
            field="creditCode",
        )


def _check_cooling_off(supplier: Supplier) -> None:
    if supplier.status != S.EXITED:
        return
    days = settings.SUPPLIER_REAPPLY_COOLING_OFF_DAYS
    allowed_from = timezone.localtime(supplier.status_changed_at).date() + timedelta(days=days)
    if _today() < allowed_from:
        raise DomainError(
            f"An exited supplier may re-apply after {days} days, from {allowed_from}.",
            code=CatalogErrorCode.COOLING_OFF,
            field="creditCode",
        )


@transaction.atomic
def supplier_apply(*, acting_user: Any, data: SupplierApplication) -> Supplier:
    """A signed-in account applies for its enterprise, cooperative or family farm. A consumer
    becomes the new supplier's staff; a rejected or exited supplier's staff re-applies with the
    same credit code (after the cooling-off period, and never when blacklisted)."""
    # Operators, agencies, auditors and reviewers act for their organisation, never apply.
    require_role(acting_user, *POLICIES["supplierApply"])
    code, county = _validate_application(data)
    _check_may_apply(code)
    existing = Supplier.objects.select_for_update().filter(credit_code=code).first()
    own = acting_user.supplier_id
    if own is not None and (existing is None or existing.pk != own):
        raise DomainError(
            "This account already belongs to another supplier.",
            code=CatalogErrorCode.ALREADY_SUPPLIER_STAFF,
            field="creditCode",
        )
    values = {name: (getattr(data, name) or "").strip() for name in APPLICATION_FIELDS}
    if existing is None:
        supplier = Supplier.objects.create(
            credit_code=code,
            county=county,
            status=S.APPLIED,
            status_changed_at=timezone.now(),
            **values,
        )
        lifecycle.enter(SUPPLIER_LIFECYCLE, supplier, kind="apply", actor=acting_user)
        acting_user.role = Role.SUPPLIER
        acting_user.save(update_fields=["role"])
        supplier_member_add(acting_user, supplier)
    else:
        if existing.pk != own:
            raise DomainError(
                "A supplier with this credit code already exists.",
                code=CatalogErrorCode.CREDIT_CODE_TAKEN,
                field="creditCode",
            )
        _check_cooling_off(existing)
        supplier = existing
        for name, value in values.items():
            setattr(supplier, name, value)
        supplier.county = county
        supplier.save()
        lifecycle.move(
            SUPPLIER_LIFECYCLE,
            supplier,
            S.APPLIED,
            actor=acting_user,
            note="re-application",
            kind="reapply",
        )
    _add_qualifications(supplier, data.qualifications)
    return supplier


@transaction.atomic
def supplier_qualification_add(
    *,
    acting_user: Any,
    supplier_id: int | None,
    item: QualificationInput,
    document: DocumentUpload | None = None,
) -> Qualification:
    """Supplier staff add or renew a qualification of their own supplier, optionally with a
    scan (PDF or image, verified by content and kept private; a refused file stores nothing)."""
    require_role(acting_user, *POLICIES["supplierQualificationAdd"])
    supplier = Supplier.objects.filter(pk=supplier_id).first()
    if supplier is None or supplier.pk != acting_user.supplier_id:
        # Another supplier's id is answered like an unknown one.
        raise NotFound("No such supplier.", field="supplierId")
    errors = _qualification_errors([item], require_all=False)
    verified = verify_if_given(document, errors)
    if errors:
        raise DomainErrors(errors)
    (qualification,) = _add_qualifications(supplier, [item])
    if verified is not None:
        attach_document(qualification, verified)
    audit_record(
        actor=acting_user,
        action="supplier.qualification_add",
        target=supplier,
        data={"kind": item.kind, "number": item.number, "expiresOn": item.expires_on.isoformat()},
    )
    return qualification


# --- Review ---------------------------------------------------------------------------------


@transaction.atomic
def supplier_recommend(
    *, acting_user: Any, supplier_id: int | None, recommend: bool, note: str = ""
) -> Supplier:
    """A county reviewer recommends (or declines) an applicant registered in their county."""
    require_role(acting_user, *POLICIES["supplierRecommend"])
    supplier = _locked_supplier(supplier_id)
    if acting_user.county_id is None or supplier.county_id != acting_user.county_id:
        raise NotFound("No such supplier in your county.")
    if supplier.status != S.APPLIED:
        raise InvalidTransition(
            f"Only an APPLIED supplier can be recommended; this one is {supplier.status}.",
            code=CatalogErrorCode.INVALID_TRANSITION,
            field="id",
        )
    if recommend:
        lifecycle.move(
            SUPPLIER_LIFECYCLE,
            supplier,
            S.RECOMMENDED,
            actor=acting_user,
            note=note,
            kind="recommend",
        )
    else:
        reason = _require_reason(note, "note")
        lifecycle.move(
            SUPPLIER_LIFECYCLE, supplier, S.REJECTED, actor=acting_user, note=reason, kind="decline"
        )
    return supplier


def reviewable_statuses() -> list[str]:
    """Where an operator's review may happen: after the county step when it is on."""
    if settings.SUPPLIER_COUNTY_STEP:
        return [S.RECOMMENDED]
    return [S.APPLIED, S.RECOMMENDED]


@transaction.atomic
def supplier_review(
    *, acting_user: Any, supplier_id: int | None, admit: bool, note: str = ""
) -> Supplier:
    """An operator admits or rejects an applicant, after the county step when it is on."""
    require_role(acting_user, *POLICIES["supplierReview"])
    supplier = _locked_supplier(supplier_id)
    if supplier.status not in reviewable_statuses():
        code = CatalogErrorCode.INVALID_TRANSITION
        if supplier.status == S.APPLIED:
            code = CatalogErrorCode.COUNTY_STEP_REQUIRED
        raise InvalidTransition(
            f"A supplier that is {supplier.status} cannot be reviewed"
            + (
                " before its county recommends it."
                if code == CatalogErrorCode.COUNTY_STEP_REQUIRED
                else "."
            ),
            code=code,
            field="id",
        )
    if admit:
        lifecycle.move(
            SUPPLIER_LIFECYCLE, supplier, S.ADMITTED, actor=acting_user, note=note, kind="admit"
        )
    else:
        reason = _require_reason(note, "note")
        lifecycle.move(
            SUPPLIER_LIFECYCLE, supplier, S.REJECTED, actor=acting_user, note=reason, kind="reject"
        )
    return supplier


def _withdraw(supplier: Supplier, to_status: str, *, actor: Any, reason: str, kind: str) -> None:
    """Suspend or exit. Its products leave the storefront and the recommended catalog at once
    (both are derived from the supplier's status); other apps' effects run through the hook in
    this same transaction."""
    lifecycle.move(SUPPLIER_LIFECYCLE, supplier, to_status, actor=actor, note=reason, kind=kind)
    hooks.supplier_withdrawn(supplier=supplier, actor=actor, reason=reason)
    notifications.withdrawn(supplier, reason=reason)


@transaction.atomic
def supplier_suspend(*, acting_user: Any, supplier_id: int | None, reason: str) -> Supplier:
    require_role(acting_user, *POLICIES["supplierSuspend"])
    supplier = _locked_supplier(supplier_id)
    _withdraw(
        supplier,
        S.SUSPENDED,
        actor=acting_user,
        reason=_require_reason(reason),
        kind="suspend",
    )
    return supplier


def expired_required_qualifications(supplier: Supplier, today: date) -> list[Qualification]:
    """The newest qualification of each required kind, where it has expired."""
    newest: dict[str, Qualification] = {}
    for qualification in supplier.qualifications.filter(kind__in=REQUIRED_QUALIFICATIONS):
        current = newest.get(qualification.kind)
        if current is None or qualification.expires_on > current.expires_on:
            newest[qualification.kind] = qualification
    return [q for q in newest.values() if q.expires_on < today]


@transaction.atomic
def supplier_reinstate(*, acting_user: Any, supplier_id: int | None, note: str = "") -> Supplier:
    """Back from SUSPENDED to ADMITTED, once every required qualification is current."""
    require_role(acting_user, *POLICIES["supplierReinstate"])
    supplier = _locked_supplier(supplier_id)
    if supplier.status != S.SUSPENDED:
        raise InvalidTransition(
            f"Only a SUSPENDED supplier can be reinstated; this one is {supplier.status}.",
            code=CatalogErrorCode.INVALID_TRANSITION,
            field="id",
        )
    expired = expired_required_qualifications(supplier, _today())
    if expired:
        names = ", ".join(f"{q.get_kind_display()} {q.number}" for q in expired)
        raise DomainError(
            f"Renew the expired qualifications first: {names}.",
            code=CatalogErrorCode.QUALIFICATION_EXPIRED,
            field="id",
        )
    lifecycle.move(
        SUPPLIER_LIFECYCLE, supplier, S.ADMITTED, actor=acting_user, note=note, kind="reinstate"
    )
    return supplier


@transaction.atomic
def supplier_exit(
    *, acting_user: Any, supplier_id: int | None, reason: str, blacklist: bool = False
) -> Supplier:
    """Push a supplier out; with `blacklist`, its credit code may never apply again."""
    require_role(acting_user, *POLICIES["supplierExit"])
    supplier = _locked_supplier(supplier_id)
    reason = _require_reason(reason)
    _withdraw(supplier, S.EXITED, actor=acting_user, reason=reason, kind="exit")
    if blacklist:
        BlacklistEntry.objects.get_or_create(
            credit_code=supplier.credit_code,
            defaults={"supplier": supplier, "reason": reason, "created_by": acting_user},
        )
        audit_record(actor=acting_user, action="supplier.blacklist", target=supplier, reason=reason)
    return supplier


def supplier_withdraw_by_rule(supplier: Supplier, to_status: str, *, reason: str) -> None:
    """The scheduled rules suspend or exit a supplier; the actor is the system."""
    kind = "suspend" if to_status == S.SUSPENDED else "exit"
    _withdraw(supplier, to_status, actor=None, reason=reason, kind=kind)


@transaction.atomic
def supplier_operator_update(
    *, acting_user: Any, supplier_id: int | None, data: dict[str, Any]
) -> Supplier:
    """An operator corrects a supplier's record (the Django admin): checked as an application
    is, audited, and its products re-indexed when the name their listings show changed."""
    require_role(acting_user, *ADMIN_EDITORS)
    supplier = _locked_supplier(supplier_id)
    refused = [name for name in data if name not in APPLICATION_FIELDS]
    if refused:
        raise DomainError(
            "The credit code, county and status are not corrected here.",
            code=CatalogErrorCode.INVALID,
            field=refused[0],
        )
    values = {name: (value or "").strip() for name, value in data.items()}
    errors = record_errors(values)
    if errors:
        raise DomainErrors(errors)
    changed = sorted(name for name, value in values.items() if getattr(supplier, name) != value)
    if not changed:
        return supplier
    for name in changed:
        setattr(supplier, name, values[name])
    validation.check_columns(supplier)
    supplier.save(update_fields=changed)
    if "name" in changed:
        hooks.products_changed(supplier.products.values_list("pk", flat=True))
    audit_record(
        actor=acting_user, action="supplier.update", target=supplier, data={"changed": changed}
    )
    return supplier
