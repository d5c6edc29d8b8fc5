"""Access checks used by services. A service calls one of these before it changes anything."""

from typing import Any

from shop.core.errors import NotAuthenticated, PermissionDenied

# A mutation's policy when anyone may call it, signed in or not (sign-up, sign-in, tokens).
ANYONE = "ANYONE"


def require_authenticated(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise NotAuthenticated()


def require_role(user: Any, *roles: str) -> None:
    """Refuse unless `user` is signed in and holds one of `roles`."""
    require_authenticated(user)
    if user.role not in roles:
        raise PermissionDenied()


def has_role(user: Any, *roles: str) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.role in roles
    )
