"""Account actions: registration, sign-in with throttling, tokens, operator user management."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from shop.accounts import tokens
from shop.accounts.errors import AccountErrorCode
from shop.accounts.models import FailedLogin, Role, User
from shop.core import validation
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


def _organisation(
    role: str, supplier_id: int | None, county_id: int | None, agency_id: int | None
) -> dict[str, Any]:
    """The organisation a role acts for: supplier staff need a supplier, county reviewers a
    Ningxia county, agency buyers an agency; other roles take none."""
    from catalog.models import County, Supplier
    from procurement.models import Agency

    wanted = {
        Role.SUPPLIER: "supplierId",
        Role.COUNTY_REVIEWER: "countyId",
        Role.AGENCY: "agencyId",
    }.get(role)
    given = {"supplierId": supplier_id, "countyId": county_id, "agencyId": agency_id}
    for name, value in given.items():
        if value is not None and name != wanted:
            raise DomainError(
                f"A {role} account takes no {name}.", code=AccountErrorCode.INVALID, field=name
            )
    if wanted == "supplierId":
        supplier = Supplier.objects.filter(pk=supplier_id).first()
        if supplier is None:
            raise DomainError(
                "Supplier staff need an existing supplier.",
                code=AccountErrorCode.REQUIRED
                if supplier_id is None
                else AccountErrorCode.NOT_FOUND,
                field="supplierId",
            )
        return {"supplier": supplier}
    if wanted == "countyId":
        county = County.objects.filter(pk=county_id).first()
        if county is None or not county.is_ningxia:
            raise DomainError(
                "County reviewers need a Ningxia county.",
                code=AccountErrorCode.REQUIRED if county_id is None else AccountErrorCode.NOT_FOUND,
                field="countyId",
            )
        return {"county": county}
    if wanted == "agencyId":
        agency = Agency.objects.filter(pk=agency_id).first()
        if agency is None:
            raise DomainError(
                "Agency buyers need an existing agency.",
                code=AccountErrorCode.REQUIRED if agency_id is None else AccountErrorCode.NOT_FOUND,
                field="agencyId",
            )
        return {"agency": agency}
    return {}


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
    require_role(acting_user, Role.OPERATOR)
    if role not in Role.values:
        raise DomainError(f"Unknown role {role!r}.", code=AccountErrorCode.INVALID, field="role")
    organisation = _organisation(role, supplier_id, county_id, agency_id)
    user = _user_new(email=email, password=password, role=role)
    if organisation:
        for name, value in organisation.items():
            setattr(user, name, value)
        user.save(update_fields=list(organisation))
    audit_record(actor=acting_user, action="user.create", target=user, data={"role": role})
    return user


@transaction.atomic
def user_deactivate(*, acting_user: Any, user_id: int | None, reason: str = "") -> User:
    """An operator blocks an account; its tokens stop working at once."""
    require_role(acting_user, Role.OPERATOR)
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


def _is_throttled(email: str, ip_address: str | None) -> bool:
    since = timezone.now() - settings.LOGIN_THROTTLE_WINDOW
    recent = FailedLogin.objects.filter(created_at__gte=since)
    if recent.filter(email=email).count() >= settings.LOGIN_THROTTLE_MAX_FAILURES_PER_ACCOUNT:
        return True
    return bool(
        ip_address
        and recent.filter(ip_address=ip_address).count()
        >= settings.LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS
    )


def token_create(*, email: str, password: str, ip_address: str | None = None) -> TokenPair:
    """Sign in. After too many recent failures for the account or the address, every attempt
    is refused (even with the right password) until the window passes. Not atomic on purpose:
    the record of a failure must survive the error it raises."""
    email = validation.text(
        (email or "").strip().lower(),
        column=validation.column(User, "email"),
        field="email",
        code=AccountErrorCode.INVALID,
    )
    if _is_throttled(email, ip_address):
        minutes = int(settings.LOGIN_THROTTLE_WINDOW.total_seconds() // 60)
        raise DomainError(
            f"Too many failed sign-in attempts. Try again in up to {minutes} minutes.",
            code=AccountErrorCode.LOGIN_THROTTLED,
        )
    user = User.objects.filter(email=email).first()
    if user is None or not user.is_active or not user.check_password(password):
        FailedLogin.objects.create(email=email, ip_address=ip_address)
        raise DomainError(
            "The e-mail or password is wrong, or the account is inactive.",
            code=AccountErrorCode.INVALID_CREDENTIALS,
        )
    FailedLogin.objects.filter(email=email).delete()
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
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
