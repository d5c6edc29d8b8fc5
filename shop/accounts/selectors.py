from typing import Any

from django.db.models import QuerySet

from shop.accounts.models import Role, User
from shop.core.permissions import require_role


def user_list(*, acting_user: Any) -> QuerySet[User]:
    """All accounts; operators only."""
    require_role(acting_user, Role.OPERATOR)
    return User.objects.order_by("email")
