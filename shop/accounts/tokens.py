"""JWT access and refresh tokens (HS256, signed with SECRET_KEY)."""

import uuid
from datetime import datetime
from typing import Any

import jwt
from django.conf import settings
from django.utils import timezone

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"


class TokenError(Exception):
    """The token is malformed, forged, expired, of the wrong kind, or its user is gone."""


def _encode(user: Any, kind: str, now: datetime) -> str:
    lifetime = (
        settings.JWT_ACCESS_TOKEN_LIFETIME
        if kind == ACCESS
        else settings.JWT_REFRESH_TOKEN_LIFETIME
    )
    payload = {
        "sub": str(user.pk),
        "email": user.email,
        "role": user.role,
        "type": kind,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=ALGORITHM)


def create_access_token(user: Any) -> str:
    return _encode(user, ACCESS, timezone.now())


def create_refresh_token(user: Any) -> str:
    return _encode(user, REFRESH, timezone.now())


def decode_token(token: str, *, kind: str) -> dict[str, Any]:
    try:
        payload = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "type"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenError("The token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise TokenError("The token is invalid.") from error
    if payload["type"] != kind:
        raise TokenError(f"Expected a {kind} token.")
    return payload


def user_for_payload(payload: dict[str, Any]) -> Any:
    from shop.accounts.models import User

    user = User.objects.with_organisations().filter(pk=payload["sub"], is_active=True).first()
    if user is None:
        raise TokenError("The token's user is inactive or does not exist.")
    return user


def user_from_access_token(token: str) -> Any:
    return user_for_payload(decode_token(token, kind=ACCESS))
