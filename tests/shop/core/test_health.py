"""/healthz and /readyz through the real middleware stack (shop/core/health.py)."""

import socket
from datetime import timedelta

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from search.backends import reset_backends
from search.models import SearchOutbox
from shop.core import health


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def checks_of(response) -> dict[str, dict]:
    return {check["name"]: check for check in response.json()["checks"]}


@pytest.fixture(autouse=True)
def details_for_the_test_client(settings):
    """The test client connects from 127.0.0.1: let it see the checks' details and errors."""
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture(autouse=True)
def fresh_migration_state():
    health.forget_migrations_state()
    yield
    health.forget_migrations_state()


def test_healthz_answers_without_touching_the_database(django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


def test_probes_by_pod_address_pass_the_host_check_and_https_redirect(settings, db):
    settings.ALLOWED_HOSTS = ["shop.example"]
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST="10.2.3.4:8000")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    # everything else still goes through both
    assert client.get("/graphql/").status_code == 400


def test_readyz_lists_every_check_with_its_latency_when_all_is_well(db):
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    checks = checks_of(response)
    assert {"database", "cache", "migrations", "search_outbox"} <= set(checks)
    for check in checks.values():
        assert check["ok"] is True
        assert isinstance(check["latency_ms"], float | int)
        assert check["latency_ms"] >= 0
    assert checks["database"]["critical"] is True
    assert checks["migrations"]["detail"] == "none pending"
    assert checks["search_outbox"]["detail"] == {"depth": 0, "oldest_age_seconds": 0.0}


def test_readyz_has_no_search_engine_check_without_an_engine(settings, db):
    settings.SEARCH_BACKEND = "database"
    settings.ELASTICSEARCH_URL = ""
    assert "search_engine" not in checks_of(Client().get("/readyz"))


def test_a_pending_migration_makes_readyz_unavailable(db):
    applied = MigrationRecorder.Migration.objects.filter(app="search").order_by("-id").first()
    applied.delete()  # rolled back with the test's transaction
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    migrations = checks_of(response)["migrations"]
    assert migrations["ok"] is False
    assert f"search.{applied.name}" in migrations["error"]


def test_a_stale_outbox_degrades_readiness_without_failing_it(db):
    SearchOutbox.objects.create(product_id=1, created_at=timezone.now() - timedelta(hours=1))
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    outbox = checks_of(response)["search_outbox"]
    assert outbox["ok"] is False
    assert outbox["critical"] is False
    assert "1 index updates waiting" in outbox["error"]


def test_a_stale_outbox_fails_readiness_when_the_operator_makes_it_critical(settings, db):
    settings.READYZ_CRITICAL_CHECKS = ["database", "migrations", "search_outbox"]
    SearchOutbox.objects.create(product_id=1, created_at=timezone.now() - timedelta(hours=1))
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert checks_of(response)["search_outbox"]["critical"] is True


def test_a_recent_outbox_row_is_healthy(db):
    SearchOutbox.objects.create(product_id=1, created_at=timezone.now() - timedelta(seconds=30))
    outbox = checks_of(Client().get("/readyz"))["search_outbox"]
    assert outbox["ok"] is True
    assert outbox["detail"]["depth"] == 1


def test_an_unreachable_search_engine_degrades_readiness(settings, db):
    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = f"http://127.0.0.1:{closed_port()}"
    settings.SEARCH_ENGINE_IS_OPENSEARCH = True
    reset_backends()
    try:
        response = Client().get("/readyz")
    finally:
        reset_backends()
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    engine = checks_of(response)["search_engine"]
    assert engine["ok"] is False
    assert engine["error"].startswith("ConnectionError")


def test_an_unreachable_cache_degrades_readiness(settings, db):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    cache = checks_of(response)["cache"]
    assert cache["ok"] is False
    assert "ConnectionError" in cache["error"]


def test_a_shared_redis_cache_passes_its_check(settings, redis_url, db):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    cache = checks_of(Client().get("/readyz"))["cache"]
    assert cache == {**cache, "ok": True, "detail": "RedisCache"}


def test_another_app_registers_a_check_that_appears_in_readyz(db):
    @health.register("sms_gateway")
    def lag() -> str:
        raise health.CheckFailed("oldest job waited 340 s")

    try:
        response = Client().get("/readyz")
    finally:
        health.unregister("sms_gateway")
    assert response.status_code == 200  # not critical unless READYZ_CRITICAL_CHECKS says so
    assert checks_of(response)["sms_gateway"]["error"] == "oldest job waited 340 s"
    assert "sms_gateway" not in health.registered()


def test_a_check_that_is_switched_off_is_not_listed(db):
    health.register("only_sometimes", lambda: "fine", enabled=lambda: False)
    try:
        assert "only_sometimes" not in checks_of(Client().get("/readyz"))
    finally:
        health.unregister("only_sometimes")


def test_outsiders_see_outcomes_and_latencies_but_no_details(settings, db):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    SearchOutbox.objects.create(product_id=1, created_at=timezone.now() - timedelta(hours=1))
    response = Client(REMOTE_ADDR="203.0.113.8").get("/readyz")
    assert response.status_code == 200
    checks = checks_of(response)
    assert checks["search_outbox"] == {
        "name": "search_outbox",
        "critical": False,
        "ok": False,
        "latency_ms": checks["search_outbox"]["latency_ms"],
    }
    assert "detail" not in checks["database"]
    # with the metrics token, the same caller sees everything
    settings.METRICS_TOKEN = "t0ken-for-readyz-details"
    full = Client(REMOTE_ADDR="203.0.113.8").get(
        "/readyz", HTTP_AUTHORIZATION="Bearer t0ken-for-readyz-details"
    )
    assert "index updates waiting" in checks_of(full)["search_outbox"]["error"]


def test_registering_a_taken_check_name_is_refused_unless_replacing():
    with pytest.raises(ValueError, match="task_queue_lag"):
        health.register("task_queue_lag", lambda: "mine")
    assert health._registry["task_queue_lag"].function is health.check_task_queue
