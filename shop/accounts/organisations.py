"""The organisations a user acts for, registered by the apps that own them.

Supplier staff act for a supplier and county reviewers for a county (both catalog), agency
buyers for an agency (procurement). The membership rows live in those apps; this registry lets
the accounts app create accounts, answer `user.supplier` / `user.agency_id` and load users with
their memberships without importing catalog or procurement (shop is the base package: the apps
import it, never the other way round).

An app registers one `Organisation` per kind from its AppConfig.ready(); `register` installs
the `<attribute>` and `<attribute>_id` conveniences on User. Who acts for an organisation is
asked here too (`members`, `membership_in`), so no app spells the membership joins itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet

from shop.accounts.errors import AccountErrorCode
from shop.core.errors import DomainError


@dataclass(frozen=True)
class Organisation:
    # The convenience on User (`user.supplier`, `user.supplier_id`) and the membership's
    # foreign key to the organisation.
    attribute: str
    # The role acting for this kind of organisation.
    role: str
    # The accountCreate argument naming it (e.g. "supplierId").
    input_field: str
    # "app_label.Model" of the organisation and of its membership rows.
    model: str
    membership_model: str
    # The reverse one-to-one accessor from User to the membership row.
    membership: str
    # The error when the organisation is missing or unfit.
    missing: str
    # Whether an existing organisation may take members (e.g. only Ningxia counties).
    fits: Callable[[Any], bool] = lambda organisation: True


_registry: dict[str, Organisation] = {}


def register(organisation: Organisation) -> None:
    """Register a kind of organisation; idempotent per attribute (ready() may run twice)."""
    from shop.accounts.models import User

    _registry[organisation.attribute] = organisation
    membership = organisation.membership

    def member_row(user: Any) -> Any:
        try:
            return getattr(user, membership)
        except ObjectDoesNotExist:
            return None

    def organisation_of(user: Any) -> Any:
        row = member_row(user)
        return getattr(row, organisation.attribute) if row is not None else None

    def organisation_id_of(user: Any) -> int | None:
        row = member_row(user)
        return getattr(row, f"{organisation.attribute}_id") if row is not None else None

    setattr(User, organisation.attribute, property(organisation_of))
    setattr(User, f"{organisation.attribute}_id", property(organisation_id_of))


def registered() -> list[Organisation]:
    return list(_registry.values())


def for_role(role: str) -> Organisation | None:
    return next((o for o in _registry.values() if o.role == role), None)


def membership_accessors() -> list[str]:
    """What `select_related` needs to load a user with every membership and its organisation in
    one query (`user.agency` is read on most of its requests; an agency member's duties are on
    the membership)."""
    return [f"{o.membership}__{o.attribute}" for o in _registry.values()]


def organisation_id_path(attribute: str) -> str:
    """The lookup from User to the id of the organisation of this kind it acts for (for
    `values()` and filters): the one spelling of the membership join."""
    return f"{_registry[attribute].membership}__{attribute}_id"


def membership_in(attribute: str, organisation_ids: Iterable[int]) -> Q:
    """The users acting for any of these organisations of one kind (`attribute`), as a
    condition on User."""
    return Q(**{f"{organisation_id_path(attribute)}__in_ids": list(organisation_ids)})


def no_membership(attribute: str) -> Q:
    """The users acting for no organisation of this kind."""
    return Q(**{f"{_registry[attribute].membership}__isnull": True})


def members(attribute: str, organisation_ids: Iterable[int]) -> QuerySet:
    """The accounts acting for any of these organisations of one kind (active or not)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(membership_in(attribute, organisation_ids))


def find(kind: Organisation, organisation_id: int | None) -> Any:
    """The organisation an account is created for, or the DomainError on its argument."""
    found = apps.get_model(kind.model).objects.filter(pk=organisation_id).first()
    if found is None or not kind.fits(found):
        raise DomainError(
            kind.missing,
            code=AccountErrorCode.REQUIRED
            if organisation_id is None
            else AccountErrorCode.NOT_FOUND,
            field=kind.input_field,
        )
    return found


def attach(user: Any, attribute: str, organisation: Any) -> None:
    """Make `user` act for `organisation` (replacing the one of that kind it acted for), in the
    caller's transaction."""
    kind = _registry[attribute]
    membership, _ = apps.get_model(kind.membership_model).objects.update_or_create(
        user=user, defaults={attribute: organisation}
    )
    # The user object in hand answers `user.<attribute>` from now on, even after an earlier read.
    setattr(user, kind.membership, membership)
