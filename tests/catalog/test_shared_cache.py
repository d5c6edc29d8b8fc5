"""With CACHE_URL the storefront cache lives in a real Redis that app processes share, and a
Redis that fails costs the cache, never the answer."""

import pytest
import redis
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import SupplierStatus
from tests.catalog.test_response_cache import names, only_product, read
from tests.pgserver import _free_port
from tests.procurement.flows import buyer, place, stocked_variant

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


def test_an_answer_with_its_stock_read_again_is_stored_for_the_next_process(shared_cache):
    variant = stocked_variant(stock=100, name="中宁枸杞")
    read(Client())
    place(buyer(), (variant, 30))
    refreshed, state = read(Client())
    assert state == "hit"
    with CaptureQueriesContext(connection) as queries:
        data, state = read(Client())
    assert state == "hit"
    assert data == refreshed
    assert only_product(data)["variants"][0]["quantityAvailable"] == 70
    assert len(queries.captured_queries) == 1  # the versions: the stock came with the entry


def test_a_redis_that_is_down_costs_the_cache_not_the_answer(settings, transactional_db):
    stocked_variant(name="中宁枸杞")
    use_redis(settings, f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    for _ in range(2):
        data, _state = read(Client())
        assert names(data) == ["中宁枸杞"]
