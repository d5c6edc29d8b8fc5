"""Account actions: registration, sign-in with throttling, tokens, operator user management."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from shop.accounts import organisations, throttle, tokens
from shop.accounts.access import POLICIES
from shop.accounts.errors import AccountErrorCode
from shop.accounts.models import Role, User
from shop.core.audit import audit_record
from shop.core.errors import DomainError, DomainErrors, NotFound
from shop.core.permissions import require_role


@dataclass(frozen=True)
class TokenPair:
    user: User
    access: str
    refresh: str


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise DomainError(
            "Enter a valid e-mail address.", code=AccountErrorCode.INVALID, field="email"
        ) from error
    if User.objects.filter(email=email).exists():
        raise DomainError(
            "An account with this e-mail already exists.",
            code=AccountErrorCode.UNIQUE,
            field="email",
        )
    return email


def _check_password(password: str, *, email: str) -> None:
    try:
        password_validation.validate_password(password, user=User(email=email))
    except ValidationError as error:
        raise DomainErrors(
            [
                DomainError(message, code=AccountErrorCode.PASSWORD_TOO_WEAK, field="password")
                for message in error.messages
            ]
        ) from error


def _user_new(*, email: str, password: str, role: str) -> User:
    email = _clean_email(email)
    _check_password(password, email=email)
    return User.objects.create_user(email, password, role=role, is_staff=role == Role.OPERATOR)


@transaction.atomic
def account_register(*, email: str, password: str) -> User:
    """Self-service sign-up; the account is a CONSUMER until an operator or an admission
    flow gives it another role."""
    user = _user_new(email=email, password=password, role=Role.CONSUMER)
    audit_record(actor=user, action="user.register", target=user)
    return user


def _organisation(role: str, given: dict[str, int | None]) -> Any:
    """The organisation a role acts for (shop/accounts/organisations.py): supplier staff need
    a supplier, county reviewers a Ningxia county, agency buyers an agency; other roles take
    none."""
    wanted = organisations.for_role(role)
    for name, value in given.items():
        if value is not None and (wanted is None or name != wanted.input_field):
            raise DomainError(
                f"A {role} account takes no {name}.", code=AccountErrorCode.INVALID, field=name
            )
    if wanted is None:
        return None
    return wanted, organisations.find(wanted, given.get(wanted.input_field))


@transaction.atomic
def user_create(
    *,
    acting_user: Any,
    email: str,
    password: str,
    role: str,
    supplier_id: int | None = None,
    county_id: int | None = None,
    agency_id: int | None = None,
) -> User:
    """An operator creates an account with any role, tied to its organisation."""
    require_role(acting_user, *POLICIES["userCreate"])
    if role not in Role.values:
        raise DomainError(f"Unknown role {role!r}.", code=AccountErrorCode.INVALID, field="role")
    organisation = _organisation(
        role, {"supplierId": supplier_id, "countyId": county_id, "agencyId": agency_id}
    )
    user = _user_new(email=email, password=password, role=role)
    if organisation is not None:
        kind, found = organisation
        organisations.attach(user, kind.attribute, found)
    audit_record(actor=acting_user, action="user.create", target=user, data={"role": role})
    return user


@transaction.atomic
def user_deactivate(*, acting_user: Any, user_id: int | None, reason: str = "") -> User:
    """An operator blocks an account; its tokens stop working at once."""
    require_role(acting_user, *POLICIES["userDeactivate"])
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user.")
    if user.pk == acting_user.pk:
        raise DomainError(
            "You cannot deactivate your own account.",
            code=AccountErrorCode.CANNOT_DEACTIVATE_SELF,
            field="id",
        )
    if not user.is_active:
        raise DomainError(
            "The account is already inactive.", code=AccountErrorCode.ALREADY_INACTIVE, field="id"
        )
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(actor=acting_user, action="user.deactivate", target=user, reason=reason)
    return user


@lru_cache(maxsize=4)
def _dummy_hash(algorithm: str) -> str:
    # Keyed by the default hasher's algorithm so that a change of PASSWORD_HASHERS makes a new
    # one: the dummy must cost what real hashes cost.
    return make_password(get_random_string(20))


def sign_in(*, email: str, password: str, address: str) -> User:
    """The one password check behind every door (tokenCreate, /admin/login/,
    /dashboard/login/). Throttled by shop/accounts/throttle.py before the password is hashed.
    An unknown e-mail or an inactive account costs the same hashing as a wrong password, so
    timing tells nothing about which accounts exist."""
    attempt = throttle.attempt(email, address)
    user = User.objects.with_organisations().filter(email=throttle.account_key(email)).first()
    if user is None:
        check_password(password, _dummy_hash(get_hasher().algorithm))
        signed_in = False
    else:
        signed_in = user.check_password(password) and user.is_active
    if not signed_in:
        raise DomainError(
            "The e-mail or password is wrong, or the account is inactive.",
            code=AccountErrorCode.INVALID_CREDENTIALS,
        )
    attempt.succeeded()
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return user


def token_create(*, email: str, password: str, address: str) -> TokenPair:
    """Sign in for the API: an access and a refresh token."""
    user = sign_in(email=email, password=password, address=address)
    return TokenPair(user, tokens.create_access_token(user), tokens.create_refresh_token(user))


def _user_from_token(token: str, *, kind: str) -> User:
    try:
        return tokens.user_for_payload(tokens.decode_token(token, kind=kind))
    except tokens.TokenError as error:
        raise DomainError(str(error), code=AccountErrorCode.INVALID_TOKEN, field="token") from error


def token_refresh(*, refresh_token: str) -> TokenPair:
    """A new access token for a valid refresh token of an active user."""
    user = _user_from_token(refresh_token, kind=tokens.REFRESH)
    return TokenPair(user, tokens.create_access_token(user), refresh_token)


def token_verify(*, token: str) -> User:
    """The user of a valid access token."""
    return _user_from_token(token, kind=tokens.ACCESS)
