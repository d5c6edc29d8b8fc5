"""A user of each role, for the permission matrices."""

from shop.accounts.models import Role
from tests.factories.accounts import UserFactory
from tests.factories.catalog import county


def staff_of(supplier):
    return supplier.staff.first() or UserFactory(role=Role.SUPPLIER, supplier=supplier)


def one_user_per_role(
    *, operator=None, agency_user=None, supplier=None, supplier_user=None
) -> dict:
    """A user of each role, tied to the organisation the role needs (the county: 中宁县); the
    users given are used as they are, the supplier's staff member is `staff_of(supplier)`, and
    an agency user not given belongs to no agency."""
    return {
        Role.OPERATOR: operator or UserFactory(role=Role.OPERATOR),
        Role.AUDITOR: UserFactory(role=Role.AUDITOR),
        Role.AGENCY: agency_user or UserFactory(role=Role.AGENCY),
        Role.SUPPLIER: supplier_user or staff_of(supplier),
        Role.COUNTY_REVIEWER: UserFactory(role=Role.COUNTY_REVIEWER, county=county("640521")),
        Role.CONSUMER: UserFactory(role=Role.CONSUMER),
    }
