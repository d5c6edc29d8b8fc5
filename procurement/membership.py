"""Which agency a user buys for, who buys for an agency, and what each member may do there:
the one place that knows how agency membership is stored (AgencyMembership rows, duties
included), registered with the accounts app (shop/accounts/organisations.py) so that
`user.agency` works without shop importing us."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from shop.accounts.models import Role
from shop.accounts.organisations import Organisation, attach, members, register


def agency_id_of(user: Any) -> int | None:
    """The agency the user buys for, or None."""
    return getattr(user, "agency_id", None)


def agency_members(agency_id: int) -> QuerySet:
    """The active users buying for an agency."""
    return members("agency", [agency_id]).filter(is_active=True)


# A member without recorded duties buys and does not approve (docs/approvals.md): the
# membership row's defaults.
DEFAULT_DUTIES = (True, False)


@dataclass(frozen=True)
class Member:
    user: Any
    can_buy: bool
    can_approve: bool


def duties_of(user: Any) -> tuple[bool, bool]:
    """(can buy, can approve) for an agency member: from the membership row loaded with the
    user (as a request's user is, `User.objects.with_organisations()`: no statement), else
    read now."""
    from procurement.models import AgencyMembership

    if user.__class__.agency_membership.is_cached(user):
        row = getattr(user, "agency_membership", None)  # None: no membership
        return (row.can_buy, row.can_approve) if row is not None else DEFAULT_DUTIES
    duties = (
        AgencyMembership.objects.filter(user_id=user.pk)
        .values_list("can_buy", "can_approve")
        .first()
    )
    return duties if duties is not None else DEFAULT_DUTIES


def duties_set(user: Any, *, can_buy: bool, can_approve: bool) -> Member:
    """Record an agency member's duties, in the caller's transaction."""
    from procurement.models import AgencyMembership

    AgencyMembership.objects.filter(user_id=user.pk).update(
        can_buy=can_buy, can_approve=can_approve
    )
    return Member(user, can_buy, can_approve)


def members_with_duties(agency_id: int) -> list[Member]:
    """The agency's active members and their duties, by e-mail (one query)."""
    users = agency_members(agency_id).select_related("agency_membership").order_by("email")
    return [
        Member(user, user.agency_membership.can_buy, user.agency_membership.can_approve)
        for user in users
    ]


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
        )
    )
