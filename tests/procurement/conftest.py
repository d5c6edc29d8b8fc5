import pytest

from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant


@pytest.fixture
def accepted(db):
    """An accepted order worth 514.00 and its buying agency's user."""
    user = buyer()
    (order,) = place(user, (stocked_variant(stock=50, price="128.50"), 4))
    flows.to_accepted(order, user)
    order.refresh_from_db()
    return order, user
