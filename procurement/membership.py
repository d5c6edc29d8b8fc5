"""Which agency a user buys for, and who buys for an agency: the one place that knows how
agency membership is stored (AgencyMembership rows), registered with the accounts app
(shop/accounts/organisations.py) so that `user.agency` works without shop importing us."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from shop.accounts.models import Role
from shop.accounts.organisations import Organisation, attach, register


def agency_id_of(user: Any) -> int | None:
    """The agency the user buys for, or None."""
    return getattr(user, "agency_id", None)


def agency_members(agency_id: int) -> QuerySet:
    """The active users buying for an agency."""
    return get_user_model().objects.filter(agency_membership__agency_id=agency_id, is_active=True)


# A member without recorded duties buys and does not approve (docs/approvals.md).
DEFAULT_DUTIES = (True, False)


@dataclass(frozen=True)
class Member:
    user: Any
    can_buy: bool
    can_approve: bool


def duties_of(user: Any) -> tuple[bool, bool]:
    """(can buy, can approve) for an agency member."""
    from procurement.models import AgencyMemberDuties

    if user.__class__.agency_duties.is_cached(user):  # loaded with the user, as a request's is
        row = getattr(user, "agency_duties", None)  # None: no row, the defaults
        return (row.can_buy, row.can_approve) if row is not None else DEFAULT_DUTIES
    duties = (
        AgencyMemberDuties.objects.filter(user_id=user.pk)
        .values_list("can_buy", "can_approve")
        .first()
    )
    return duties if duties is not None else DEFAULT_DUTIES


def members_with_duties(agency_id: int) -> list[Member]:
    """The agency's active members and their duties, by e-mail (one query)."""
    users = agency_members(agency_id).select_related("agency_duties").order_by("email")
    members = []
    for user in users:
        duties = getattr(user, "agency_duties", None)
        can_buy, can_approve = (
            (duties.can_buy, duties.can_approve) if duties is not None else DEFAULT_DUTIES
        )
        members.append(Member(user, can_buy, can_approve))
    return members


def agency_member_add(user: Any, agency: Any) -> None:
    """Make `user` buy for `agency` (replacing any agency it bought for)."""
    attach(user, "agency", agency)


def register_organisations() -> None:
    register(
        Organisation(
            attribute="agency",
            role=Role.AGENCY,
            input_field="agencyId",
            model="procurement.Agency",
            membership_model="procurement.AgencyMembership",
            membership="agency_membership",
            missing="Agency buyers need an existing agency.",
            # read by every checkout and approval (`duties_of`)
            loaded_with_user=("agency_duties",),
        )
    )
