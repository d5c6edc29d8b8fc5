"""With CACHE_URL the storefront cache lives in a real Redis that app processes share, and a
Redis that fails costs the cache, never the answer."""

import pytest
import redis
from django.test import Client

from catalog.models import SupplierStatus
from tests.catalog.test_response_cache import names, read
from tests.pgserver import _free_port
from tests.procurement.flows import stocked_variant

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def use_redis(settings, url: str) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }


@pytest.fixture
def shared_cache(settings, redis_url):
    use_redis(settings, redis_url)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


def test_an_answer_stored_by_one_process_is_served_to_another(shared_cache):
    variant = stocked_variant(name="中宁枸杞")
    read(Client())
    assert shared_cache.keys("*graphql:response:*")
    # Another app process has its own memory but the same Redis: nothing of this process is
    # needed for the hit.
    data, state = read(Client())
    assert state == "hit"
    assert names(data) == ["中宁枸杞"]
    variant.product.supplier.__class__.objects.update(status=SupplierStatus.SUSPENDED)
    data, state = read(Client())
    assert (state, names(data)) == ("miss", [])


def test_a_redis_that_is_down_costs_the_cache_not_the_answer(settings, transactional_db):
    stocked_variant(name="中宁枸杞")
    use_redis(settings, f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    for _ in range(2):
        data, _state = read(Client())
        assert names(data) == ["中宁枸杞"]
