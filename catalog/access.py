"""Who may see and act on which catalog rows, and which fields they may read: the one place
for it.

- Row scopes: `suppliers` (operators and auditors all, a county reviewer their county's,
  supplier staff their own), `managed_products` (supplier staff their own, operators and
  auditors all).
- Locked getters for the services: `own_product`, `own_variant` (another supplier's row is
  answered like an unknown one).
- Field visibility: `can_see_supplier_records`, `can_read_qualifications`,
  `can_read_inspection_report_file`.
- Mutation policies (`POLICIES`), read by the mutations' `allowed_roles` and by the services.
"""

from typing import Any

from django.db.models import QuerySet

from catalog.models import InspectionReport, Product, ProductVariant, Supplier
from shop.accounts.models import Role
from shop.core.errors import NotFound, PermissionDenied
from shop.core.permissions import has_role, require_authenticated, require_role

SUPPLIER_STAFF = Role.SUPPLIER
OPERATOR = Role.OPERATOR

# Mutation -> the roles allowed to call it (tests/shop/core/test_mutation_policies.py).
POLICIES: dict[str, tuple[str, ...]] = {
    "supplierApply": (Role.CONSUMER, Role.SUPPLIER),
    "supplierQualificationAdd": (SUPPLIER_STAFF,),
    "supplierRecommend": (Role.COUNTY_REVIEWER,),
    "supplierReview": (OPERATOR,),
    "supplierSuspend": (OPERATOR,),
    "supplierReinstate": (OPERATOR,),
    "supplierExit": (OPERATOR,),
    "productCreate": (SUPPLIER_STAFF,),
    "productUpdate": (SUPPLIER_STAFF,),
    "productSubmitForCertification": (SUPPLIER_STAFF,),
    "productCertify": (OPERATOR,),
    "productVariantCreate": (SUPPLIER_STAFF,),
    "productVariantUpdate": (SUPPLIER_STAFF,),
    "stockUpdate": (SUPPLIER_STAFF,),
    "productImageCreate": (SUPPLIER_STAFF,),
    "productAuthorizationAdd": (SUPPLIER_STAFF,),
    "inspectionReportAdd": (SUPPLIER_STAFF,),
    "traceBatchCreate": (SUPPLIER_STAFF,),
}

# Who corrects records in the Django admin (a listing's description and publication, a
# supplier's record, reference data); the services those edits go through check it.
ADMIN_EDITORS = (OPERATOR,)


def suppliers(acting_user: Any) -> QuerySet[Supplier]:
    """Operators and auditors see all suppliers; a county reviewer those of their county;
    supplier staff only their own."""
    require_authenticated(acting_user)
    rows = Supplier.objects.all()
    if has_role(acting_user, Role.OPERATOR, Role.AUDITOR):
        return rows
    if acting_user.role == Role.COUNTY_REVIEWER:
        return rows.filter(county_id=acting_user.county_id)
    if acting_user.role == SUPPLIER_STAFF:
        return rows.filter(pk=acting_user.supplier_id)
    raise PermissionDenied()


def managed_products(acting_user: Any) -> QuerySet[Product]:
    """Every product the caller manages, whatever its status: supplier staff their own,
    operators and auditors all."""
    require_authenticated(acting_user)
    if acting_user.role == SUPPLIER_STAFF:
        return Product.objects.filter(supplier_id=acting_user.supplier_id)
    if acting_user.role in (Role.OPERATOR, Role.AUDITOR):
        return Product.objects.all()
    raise PermissionDenied()


def own_product(acting_user: Any, product_id: int | None, *, lock: bool = False) -> Product:
    """The product, if it belongs to the acting supplier staff's supplier; another supplier's
    product is answered like an unknown one."""
    require_role(acting_user, SUPPLIER_STAFF)
    products = Product.objects.select_related("supplier")
    if lock:
        products = products.select_for_update()
    product = products.filter(pk=product_id, supplier_id=acting_user.supplier_id).first()
    if product is None or acting_user.supplier_id is None:
        raise NotFound("No such product.", field="id")
    return product


def own_variant(acting_user: Any, variant_id: int | None) -> ProductVariant:
    """The variant, locked, if its product belongs to the acting supplier staff's supplier."""
    require_role(acting_user, SUPPLIER_STAFF)
    variant = (
        ProductVariant.objects.select_for_update()
        .select_related("product__supplier")
        .filter(pk=variant_id, product__supplier_id=acting_user.supplier_id)
        .first()
    )
    if variant is None or acting_user.supplier_id is None:
        raise NotFound("No such variant.", field="id")
    return variant


def can_see_supplier_records(user: Any, supplier_id: int) -> bool:
    """Qualifications, history and the household ledger are for operators, auditors and the
    supplier's own staff."""
    if has_role(user, Role.OPERATOR, Role.AUDITOR):
        return True
    return has_role(user, Role.SUPPLIER) and user.supplier_id == supplier_id


def can_read_qualifications(user: Any, supplier: Supplier) -> bool:
    """Qualifications and their scans (identity documents among them): the supplier records'
    readers, and the county reviewer who recommends or declines the supplier's application."""
    if can_see_supplier_records(user, supplier.pk):
        return True
    return has_role(user, Role.COUNTY_REVIEWER) and user.county_id == supplier.county_id


def can_read_inspection_report_file(user: Any, report: InspectionReport) -> bool:
    """A report's lab, number and items are public (trace batches show them); the report file
    is the supplier's record. County reviewers judge suppliers, not products."""
    return can_see_supplier_records(user, report.product.supplier_id)
