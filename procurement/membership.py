"""Which agency a user buys for, and who buys for an agency: the one place that knows how
agency membership is stored (today `User.agency`), so moving it touches only this module."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet


def agency_id_of(user: Any) -> int | None:
    """The agency the user buys for, or None."""
    return getattr(user, "agency_id", None)


def agency_members(agency_id: int) -> QuerySet:
    """The active users buying for an agency."""
    return get_user_model().objects.filter(agency_id=agency_id, is_active=True)
