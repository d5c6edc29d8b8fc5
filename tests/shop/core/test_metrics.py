"""/metrics: who may read it, and that each figure moves when its event really happens.

The process-local metrics accumulate over the test session (one default registry, as in a
single server process), so each test compares a scrape after the event with one before."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from procurement.models import Payment, PaymentMethod
from procurement.transparency import store
from search import metrics as search_metrics
from search.models import SearchOutbox
from shop.accounts.tokens import create_access_token
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant
from tests.procurement.test_checkout import CHECKOUT, vid
from tests.procurement.test_ledger_transparency import adjust

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, tuple], float]:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return read


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(client: Client, query: str, variables=None, **headers):
    return client.post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )


# --- Access ---------------------------------------------------------------------------------


def test_metrics_need_the_token_when_one_is_set(settings, db):
    settings.METRICS_TOKEN = TOKEN
    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert Client().get("/metrics").status_code == 401
    served = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert served.status_code == 200
    assert served["Content-Type"].startswith("text/plain")
    assert b"shanhai_metrics_database_up 1.0" in served.content


def test_without_a_token_production_serves_metrics_to_nobody_by_default(settings, db):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


def test_debug_serves_metrics_on_loopback_only(settings, db):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 403


def test_an_allowed_network_is_served_unless_the_request_came_through_a_proxy(settings, db):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    proxied = Client(REMOTE_ADDR="10.1.2.3").get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert proxied.status_code == 403
    assert Client(REMOTE_ADDR="192.168.1.5").get("/metrics").status_code == 403


# --- Per request ----------------------------------------------------------------------------


def test_a_named_query_is_timed_under_its_name_and_type(scrape, gql, db):
    before = scrape()
    for _ in range(3):
        assert post(Client(), "query MeAgain { me { email } }").status_code == 200
    after = scrape()
    name = "shanhai_graphql_request_duration_seconds_count"
    labels = {"operation_name": "MeAgain", "operation_type": "query"}
    assert value(after, name, **labels) - value(before, name, **labels) == 3
    requests = "shanhai_graphql_requests_total"
    assert (
        value(after, requests, **labels, outcome="ok")
        - value(before, requests, **labels, outcome="ok")
        == 3
    )


def test_refused_and_anonymous_operations_are_counted_as_errors(scrape, db):
    before = scrape()
    post(Client(), "{ nope }")
    after = scrape()
    labels = {"operation_name": "anonymous", "operation_type": "query", "outcome": "error"}
    name = "shanhai_graphql_requests_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_client_chosen_operation_names_are_bounded(scrape, settings, db):
    settings.METRICS_MAX_OPERATION_NAMES = 0  # every name not seen before is "other"
    before = scrape()
    post(Client(), "query Unseen12345 { me { email } }")
    after = scrape()
    name = "shanhai_graphql_request_duration_seconds_count"
    other = {"operation_name": "other", "operation_type": "query"}
    assert value(after, name, **other) - value(before, name, **other) == 1
    assert value(after, name, operation_name="Unseen12345", operation_type="query") == 0


def test_database_queries_per_request_are_counted_exactly(scrape, db, django_assert_num_queries):
    user = buyer()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(user)}"}
    post(Client(), "query Me { me { email } }", **headers)  # warm up (content types, …)
    before = scrape()
    with django_assert_num_queries(1):  # what Django itself saw
        post(Client(), "query Me { me { email } }", **headers)
    after = scrape()
    name = "shanhai_db_queries_per_request"
    labels = {"operation_type": "query"}
    assert value(after, f"{name}_count", **labels) - value(before, f"{name}_count", **labels) == 1
    counted = value(after, f"{name}_sum", **labels) - value(before, f"{name}_sum", **labels)
    assert counted == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_storefront_cache_hits_and_misses_are_counted(scrape):
    stocked_variant(name="中宁枸杞")
    query = "query Listing { products(first: 5) { edges { node { name } } } }"
    before = scrape()
    first = post(Client(), query)
    second = post(Client(), query)
    after = scrape()
    assert (first["X-Response-Cache"], second["X-Response-Cache"]) == ("miss", "hit")
    name = "shanhai_response_cache_lookups_total"
    assert value(after, name, result="miss") - value(before, name, result="miss") == 1
    assert value(after, name, result="hit") - value(before, name, result="hit") == 1


def test_an_oversell_refusal_is_a_checkout_conflict(scrape, gql, db):
    user = buyer()
    variant = stocked_variant(stock=3)
    before = scrape()
    variables = {
        "lines": [{"variantId": vid(variant), "quantity": 5}],
        "key": "metrics-conflict-01",
        "days": 7,
    }
    payload = gql(CHECKOUT, variables, user=user)["data"]["checkoutCreate"]
    assert [e["code"] for e in payload["errors"]] == ["INSUFFICIENT_STOCK"]
    after = scrape()
    name = "shanhai_checkout_conflicts_total"
    labels = {"code": "INSUFFICIENT_STOCK"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


# --- Read from the database at scrape time --------------------------------------------------


def test_search_fallbacks_are_reported_from_the_shared_counter(scrape, db):
    before = value(scrape(), "shanhai_search_fallbacks_total")
    search_metrics.increment(search_metrics.FALLBACKS, "engine down")
    search_metrics.increment(search_metrics.FALLBACKS, "engine down")
    assert value(scrape(), "shanhai_search_fallbacks_total") == before + 2


def test_outbox_depth_and_age_are_reported(scrape, db):
    SearchOutbox.objects.create(product_id=1, created_at=timezone.now() - timedelta(minutes=5))
    SearchOutbox.objects.create(product_id=2, attempts=2)
    samples = scrape()
    assert value(samples, "shanhai_search_outbox_depth") == 2
    assert value(samples, "shanhai_search_outbox_failing") == 1
    assert value(samples, "shanhai_search_outbox_oldest_age_seconds") >= 300


def test_pending_payments_are_reported(scrape, db):
    user = buyer()
    (order,) = place(user, (stocked_variant(stock=50, price="128.50"), 4))
    flows.to_accepted(order, user)
    assert value(scrape(), "shanhai_payments_pending") == 0
    Payment.objects.create(
        order=order, method=PaymentMethod.BANK_TRANSFER, amount=Decimal("514.00")
    )
    samples = scrape()
    assert value(samples, "shanhai_payments_pending") == 1
    assert ("shanhai_payments_pending_oldest_age_seconds", ()) in samples


def test_ledger_size_and_checkpoint_are_reported(scrape, operator):
    adjust(operator)
    adjust(operator, "20.00")
    store.checkpoint()
    samples = scrape()
    assert value(samples, "shanhai_ledger_tree_size") == 2
    assert value(samples, "shanhai_ledger_checkpoint_tree_size") == 2
    assert ("shanhai_ledger_last_checkpoint_age_seconds", ()) in samples
