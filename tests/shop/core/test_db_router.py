"""Reads from a real streaming replica (shop/core/db_router.py): started here with
`pg_basebackup -R` from the test server, made to lag with `pg_wal_replay_pause()` and stopped.

A paused replica is what shows where a read went: a row changed on the primary after the pause
reads old on the replica and new on the primary. The tests commit (transactional_db): the
replica only ever sees committed data.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.test import Client

from catalog.models import Product
from procurement import ledger
from procurement.models import ContributionEntry
from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from shop.core import db_router
from tests.factories import UserFactory
from tests.factories.catalog import ProductFactory
from tests.pgserver import Replica

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(
        transaction=True, serialized_rollback=True, databases=["default", "replica"]
    ),
]


@pytest.fixture(scope="module", autouse=True)
def replica_server(django_db_setup):
    """One replica for the module, known to Django as the `replica` database (a test mirror,
    so the test harness never flushes it: it follows the primary's flushes)."""
    if connection.vendor != "postgresql":
        pytest.fail("The replica tests need PostgreSQL (tests/pgserver.py starts one).")
    server = Replica(connection.settings_dict)
    server.create()
    default = connections.settings["default"]
    configured = connections.configure_settings(
        {
            "default": dict(default),
            "replica": {
                **server.settings(default["NAME"]),
                "TEST": {**default["TEST"], "MIRROR": "default"},
            },
        }
    )["replica"]
    # connections.settings is settings.DATABASES itself (Django configures it in place).
    connections.settings["replica"] = django_settings.DATABASES["replica"] = configured
    yield server
    connections["replica"].close()
    del connections["replica"]
    connections.settings.pop("replica", None)
    django_settings.DATABASES.pop("replica", None)
    server.destroy()


@pytest.fixture
def replica(replica_server, settings):
    """The replica, up, following and caught up; within the lag limit unless a test lowers it."""
    settings.REPLICA_RETRY_SECONDS = 0
    settings.REPLICA_MAX_LAG_SECONDS = 3600
    replica_server.resume_replay()
    replica_server.wait_for_replay()
    yield replica_server
    replica_server.resume_replay()


@pytest.fixture
def renamed_behind_replica(replica):
    """A product named "旧名" on the replica and "新名" on the primary (the replica paused)."""
    product = ProductFactory(name="旧名")
    replica.wait_for_replay()
    replica.pause_replay()
    Product.objects.filter(pk=product.pk).update(name="新名")
    replica.wait_for_receipt()
    return product


PRODUCT = "query ($slug: String) { product(slug: $slug) { name } }"


def product_name(client: Client, product: Product, **headers) -> str:
    response = client.post(
        "/graphql/",
        {"query": PRODUCT, "variables": {"slug": product.slug}},
        content_type="application/json",
        **headers,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["product"]["name"]


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_access_token(user)}"}


def test_anonymous_storefront_reads_come_from_the_replica(client, renamed_behind_replica):
    before = db_router.replica_fallbacks()
    assert product_name(client, renamed_behind_replica) == "旧名"
    assert db_router.replica_fallbacks() == before


def test_a_replica_over_the_lag_limit_is_skipped_and_counted(
    client, renamed_behind_replica, settings
):
    settings.REPLICA_MAX_LAG_SECONDS = 0
    before = db_router.replica_fallbacks_by_reason()
    assert product_name(client, renamed_behind_replica) == "新名"
    after = db_router.replica_fallbacks_by_reason()
    assert after[db_router.LAGGING] == before[db_router.LAGGING] + 1
    assert after[db_router.DOWN] == before[db_router.DOWN]


def test_a_stopped_replica_is_skipped_and_counted(client, replica):
    product = ProductFactory(name="新名")
    replica.stop()
    try:
        before = db_router.replica_fallbacks_by_reason()
        assert product_name(client, product) == "新名"
        after = db_router.replica_fallbacks_by_reason()
    finally:
        replica.start()
    assert after[db_router.DOWN] == before[db_router.DOWN] + 1
    assert after[db_router.LAGGING] == before[db_router.LAGGING]


def test_signed_in_queries_read_the_primary(client, renamed_behind_replica):
    consumer = UserFactory(role=Role.CONSUMER)
    assert product_name(client, renamed_behind_replica, **bearer(consumer)) == "新名"


def test_anonymous_queries_beyond_the_storefront_read_the_primary(client, renamed_behind_replica):
    query = "query ($slug: String) { product(slug: $slug) { name } me { id } }"
    body = client.post(
        "/graphql/",
        {"query": query, "variables": {"slug": renamed_behind_replica.slug}},
        content_type="application/json",
    ).json()
    assert body["data"]["product"]["name"] == "新名"


def test_a_lagging_replica_cannot_leave_old_answers_cached_under_a_new_version(
    client, renamed_behind_replica, replica
):
    """The catalog version in the cache key is read from the replica, like the data: while it
    lags, its answer is cached under its own (old) version, and once it catches up the new
    version misses the cache. A version read on the primary would have stamped the replica's
    old name as current and kept serving it."""
    assert product_name(client, renamed_behind_replica) == "旧名"
    replica.resume_replay()
    replica.wait_for_replay()
    assert product_name(client, renamed_behind_replica) == "新名"


def test_reads_after_a_write_in_a_replica_scope_read_the_primary(renamed_behind_replica):
    with db_router.replica_reads() as alias:
        assert alias == db_router.REPLICA
        assert Product.objects.get(pk=renamed_behind_replica.pk).name == "旧名"
        ProductFactory(name="别的")
        assert Product.objects.get(pk=renamed_behind_replica.pk).name == "新名"


def test_raw_sql_writes_in_a_replica_scope_end_replica_reads(renamed_behind_replica):
    with db_router.replica_reads():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE catalog_product SET description = 'x' WHERE id = -1")
        assert Product.objects.get(pk=renamed_behind_replica.pk).name == "新名"


def test_reads_inside_a_transaction_on_the_primary_stay_there(renamed_behind_replica):
    with db_router.replica_reads(), transaction.atomic():
        assert Product.objects.get(pk=renamed_behind_replica.pk).name == "新名"


def book(amount: str) -> None:
    with transaction.atomic():
        ledger.append(
            [
                ContributionEntry(
                    kind="PURCHASE",
                    source="ADJUSTMENT",
                    amount=Decimal(amount),
                    business_date=date(2025, 3, 1),
                    source_key=f"adjustment:{amount}",
                    buyer_province="福建省",
                    origin_province="宁夏回族自治区",
                )
            ]
        )


@pytest.fixture
def booked_behind_replica(replica):
    """100.00 booked on both; 50.00 more on the primary only (the replica paused)."""
    book("100.00")
    replica.wait_for_replay()
    replica.pause_replay()
    book("50.00")
    replica.wait_for_receipt()


SUMMARY = "{ contributionSummary { total { amount } } }"


def summary_total(client: Client, user) -> str:
    body = client.post(
        "/graphql/", {"query": SUMMARY}, content_type="application/json", **bearer(user)
    ).json()
    assert "errors" not in body, body
    return body["data"]["contributionSummary"]["total"]["amount"]


def test_auditor_reports_read_the_replica(client, booked_behind_replica):
    auditor = UserFactory(role=Role.AUDITOR)
    assert Decimal(summary_total(client, auditor)) == Decimal("100.00")


def test_auditor_reports_skip_a_lagging_replica(client, booked_behind_replica, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 0
    auditor = UserFactory(role=Role.AUDITOR)
    assert Decimal(summary_total(client, auditor)) == Decimal("150.00")


def test_operator_reports_read_the_primary(client, booked_behind_replica):
    operator = UserFactory(role=Role.OPERATOR)
    assert Decimal(summary_total(client, operator)) == Decimal("150.00")


def export_amounts(client: Client, user) -> list[str]:
    response = client.get("/exports/contributions.csv", **bearer(user))
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[1:]
    return sorted(line.split(",")[4] for line in lines)


def test_auditor_exports_read_the_replica(client, booked_behind_replica):
    assert export_amounts(client, UserFactory(role=Role.AUDITOR)) == ["100.00"]


# --- Operations: the fallback counter at /metrics, the replica at /readyz -------------------


def replica_fallback_samples(settings) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    settings.METRICS_TOKEN = "replica-scrape-token-0123456789"
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert response.status_code == 200
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if sample.name == "shanhai_replica_fallbacks_total"
    }


def test_replica_fallbacks_are_exported_as_a_metric(client, renamed_behind_replica, settings):
    before = replica_fallback_samples(settings).get(db_router.LAGGING, 0.0)
    settings.REPLICA_MAX_LAG_SECONDS = 0
    product_name(client, renamed_behind_replica)
    assert replica_fallback_samples(settings)[db_router.LAGGING] == before + 1


def test_readyz_reports_a_lagging_replica_as_degraded_not_unavailable(
    renamed_behind_replica, settings
):
    from tests.shop.core.test_health import checks_of

    settings.REPLICA_MAX_LAG_SECONDS = 0
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert checks_of(response)["replica"]["ok"] is False


def test_readyz_reports_a_stopped_replica(replica, settings):
    from tests.shop.core.test_health import checks_of

    replica.stop()
    try:
        response = Client().get("/readyz")
    finally:
        replica.start()
    assert response.status_code == 200
    assert checks_of(response)["replica"]["ok"] is False


def test_readyz_checks_a_healthy_replica(replica):
    from tests.shop.core.test_health import checks_of

    assert checks_of(Client().get("/readyz"))["replica"]["ok"] is True
