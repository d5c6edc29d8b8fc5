import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.accounts.models import User
from shop.core.graphql.dataloaders import DataLoader, batches, prime_siblings
from tests.factories import UserFactory


class Context:
    pass


@batches("TestOwner", key=lambda owner: owner["user_id"])
class UserById(DataLoader[int, User]):
    def batch_load(self, keys):
        return {user.pk: user for user in User.objects.filter(pk__in=keys)}


@pytest.mark.smoke
def test_first_load_fetches_every_primed_sibling_in_one_query(db):
    users = UserFactory.create_batch(5)
    context = Context()
    prime_siblings(context, "TestOwner", [{"user_id": u.pk} for u in users])
    with CaptureQueriesContext(connection) as queries:
        loaded = [UserById(context).load(u.pk) for u in users]
    assert loaded == users
    assert len(queries) == 1


@pytest.mark.smoke
def test_unknown_key_gets_the_default_and_is_cached(db):
    context = Context()
    with CaptureQueriesContext(connection) as queries:
        assert UserById(context).load(424242) is None
        assert UserById(context).load(424242) is None
    assert len(queries) == 1


@pytest.mark.smoke
def test_loaders_are_per_request(db):
    first, second = Context(), Context()
    assert UserById(first) is UserById(first)
    assert UserById(first) is not UserById(second)
