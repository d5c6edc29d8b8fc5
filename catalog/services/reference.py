"""Reference data an operator keeps in the Django admin (counties, cities, categories): every
save and deletion is audited, and the listings showing a changed category or county (its
names and whether it is poverty-exited are in the search index) are re-indexed."""

from typing import Any

from django.db import models, transaction
from django.db.models import Q

from catalog import hooks
from catalog.access import ADMIN_EDITORS
from catalog.models import Category, City, County, Product
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.permissions import require_role

REFERENCE_MODELS = (County, City, Category)


def _listings_showing(row: models.Model) -> models.QuerySet:
    """The products whose listing shows `row` (none for a city: agencies' cities are not in
    any listing)."""
    if isinstance(row, Category):
        return Product.objects.filter(category=row)
    if isinstance(row, County):
        return Product.objects.filter(Q(origin_county=row) | Q(supplier__county=row))
    return Product.objects.none()


def _require_reference(row: models.Model) -> None:
    if not isinstance(row, REFERENCE_MODELS):
        raise TypeError(f"{type(row).__name__} is not reference data")


def _action(row: models.Model, verb: str) -> str:
    return f"{row._meta.model_name}.{verb}"


@transaction.atomic
def reference_data_save(*, acting_user: Any, row: models.Model, changed: list[str]) -> Any:
    """Add or correct a county, city or category (`changed`: the fields edited)."""
    require_role(acting_user, *ADMIN_EDITORS)
    _require_reference(row)
    creating = row.pk is None
    validation.check_columns(row)
    row.save()
    if not creating and changed:
        hooks.products_changed(_listings_showing(row).values_list("pk", flat=True))
    audit_record(
        actor=acting_user,
        action=_action(row, "create" if creating else "update"),
        target=row,
        data={"changed": sorted(changed)},
    )
    return row


@transaction.atomic
def reference_data_delete(*, acting_user: Any, row: models.Model) -> None:
    """Delete a county, city or category nothing uses (the admin offers it only then; the
    database's PROTECT refuses it otherwise)."""
    require_role(acting_user, *ADMIN_EDITORS)
    _require_reference(row)
    audit_record(actor=acting_user, action=_action(row, "delete"), target=row)
    row.delete()
