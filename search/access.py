"""Who may read what of search beyond the public storefront."""

from typing import Any

from shop.accounts.models import Role
from shop.core.permissions import require_role

# The index's health, the engine's state and the trouble counters (searchStatus).
STATUS_READERS = (Role.OPERATOR, Role.AUDITOR)


def require_status_reader(acting_user: Any) -> None:
    require_role(acting_user, *STATUS_READERS)
