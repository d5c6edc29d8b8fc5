"""Certification (产品认定) and its evidence: submitting a product, the operator's decision,
GI and regional-brand authorisations, inspection reports."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog import access, hooks
from catalog.documents import DocumentUpload, attach_document, verify_if_given
from catalog.errors import CatalogErrorCode
from catalog.models import (
    PRODUCT_LIFECYCLE,
    AuthorizationKind,
    InspectionReport,
    Product,
    ProductAuthorization,
    ProductStatus,
)
from catalog.services.products import require_admitted
from shop.core import lifecycle, validation
from shop.core.audit import audit_record
from shop.core.errors import DomainError, DomainErrors, FieldErrors, InvalidTransition, NotFound
from shop.core.permissions import require_role

P = ProductStatus

# How long before expiry a certified product may be re-submitted for its annual review.
RECERTIFY_WINDOW_DAYS = 90


@transaction.atomic
def product_submit_for_certification(*, acting_user: Any, product_id: int | None) -> Product:
    product = access.own_product(acting_user, product_id, lock=True)
    require_admitted(product.supplier)
    if not product.variants.exists():
        raise DomainError(
            "Add at least one variant before submitting.",
            code=CatalogErrorCode.NO_VARIANTS,
            field="id",
        )
    if product.status == P.CERTIFIED:
        today = timezone.localdate()
        window_opens = (product.certified_until or today) - timedelta(days=RECERTIFY_WINDOW_DAYS)
        if today < window_opens:
            raise InvalidTransition(
                f"The certification is valid until {product.certified_until}; it can be "
                f"renewed from {window_opens}.",
                code=CatalogErrorCode.INVALID_TRANSITION,
                field="id",
            )
    lifecycle.move(PRODUCT_LIFECYCLE, product, P.PENDING_CERTIFICATION, actor=acting_user)
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
        lifecycle.move(
            PRODUCT_LIFECYCLE,
            product,
            P.CERTIFICATION_REJECTED,
            actor=acting_user,
            note=note.strip(),
        )
        return product
    today = timezone.localdate()
    valid_until = valid_until or today + timedelta(days=settings.PRODUCT_CERTIFICATION_DEFAULT_DAYS)
    if valid_until <= today:
        raise DomainError(
            "The validity must end in the future.",
            code=CatalogErrorCode.INVALID,
            field="validUntil",
        )
    lifecycle.move(
        PRODUCT_LIFECYCLE,
        product,
        P.CERTIFIED,
        actor=acting_user,
        note=(note or "").strip(),
        changes={"certified_until": valid_until},
        history={"valid_until": valid_until},
        audit={"validUntil": str(valid_until)},
    )
    return product


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
    errors = FieldErrors()
    if data.kind not in AuthorizationKind.values:
        errors.add("Unknown authorisation kind.", CatalogErrorCode.INVALID, "kind")
    if not (data.name or "").strip():
        errors.add("A name is required.", CatalogErrorCode.REQUIRED, "name")
    if data.expires_on <= timezone.localdate():
        errors.add(
            "The authorisation has expired.", CatalogErrorCode.QUALIFICATION_EXPIRED, "expiresOn"
        )
    else:
        validation.collecting(
            errors,
            validation.document_expiry,
            data.expires_on,
            today=timezone.localdate(),
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
    errors = FieldErrors(
        DomainError("This field is required.", code=CatalogErrorCode.REQUIRED, field=name)
        for name in ("lab", "number", "items")
        if not (getattr(data, name) or "").strip()
    )
    if data.tested_on > timezone.localdate():
        errors.add("The test date is in the future.", CatalogErrorCode.INVALID, "testedOn")
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
