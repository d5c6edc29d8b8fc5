"""Django's `authenticate()` checks passwords through services.sign_in too, so no code path
that signs someone in with a password escapes the throttling."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from shop.accounts.services import sign_in
from shop.accounts.throttle import client_address
from shop.core.errors import DomainError


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        username = username or kwargs.get("email")
        if not username or password is None:
            return None
        try:
            return sign_in(email=username, password=password, address=client_address(request))
        except DomainError:
            return None

    def get_user(self, user_id: Any) -> Any:
        # The session's user with their memberships, as the API's token user is.
        from shop.accounts.models import User

        user = User.objects.with_organisations().filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
