"""Who acts for a supplier or a county: the membership rows (SupplierMembership,
CountyMembership), registered with the accounts app (shop/accounts/organisations.py) so that
operators can create supplier staff and county reviewers and `user.supplier` / `user.county`
work, without shop importing catalog."""

from typing import Any

from shop.accounts.models import Role
from shop.accounts.organisations import Organisation, attach, register


def supplier_member_add(user: Any, supplier: Any) -> None:
    """Make `user` act for `supplier` (replacing any supplier it acted for)."""
    attach(user, "supplier", supplier)


def county_member_add(user: Any, county: Any) -> None:
    """Make `user` review for `county` (replacing any county it reviewed for)."""
    attach(user, "county", county)


def register_organisations() -> None:
    register(
        Organisation(
            attribute="supplier",
            role=Role.SUPPLIER,
            input_field="supplierId",
            model="catalog.Supplier",
            membership_model="catalog.SupplierMembership",
            membership="supplier_membership",
            missing="Supplier staff need an existing supplier.",
        )
    )
    register(
        Organisation(
            attribute="county",
            role=Role.COUNTY_REVIEWER,
            input_field="countyId",
            model="catalog.County",
            membership_model="catalog.CountyMembership",
            membership="county_membership",
            missing="County reviewers need a Ningxia county.",
            fits=lambda county: county.is_ningxia,
        )
    )
