"""The task queue as operators see it: the `task_queue_lag` readiness check and the queue
gauges at /metrics (shop.core.jobs.queue_state). The jobs are real rows of the database
backend; no worker runs here, so what is due stays due."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from shop.core.models import WorkerHeartbeat
from tests.shop.core import job_samples
from tests.shop.core.test_health import checks_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def database_jobs(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.JOBS_BACKEND = "database"
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.JOBS_MAX_LAG_SECONDS = 300


def a_live_worker(seen_seconds_ago: float = 1) -> None:
    seen = timezone.now() - timedelta(seconds=seen_seconds_ago)
    WorkerHeartbeat.objects.create(
        worker_id="w-test", host="test", pid=1, started_at=seen, seen_at=seen
    )


def queue_check() -> dict:
    response = Client().get("/readyz")
    assert response.status_code == 200  # the queue is never critical by default
    return checks_of(response)["task_queue_lag"]


def test_an_empty_queue_is_ready():
    check = queue_check()
    assert check["ok"] is True
    assert check["detail"]["due"] == 0


def test_jobs_due_with_no_live_worker_fail_the_check():
    job_samples.count_run.enqueue("waiting")
    a_live_worker(seen_seconds_ago=3600)  # a dead worker does not count
    check = queue_check()
    assert check["ok"] is False
    assert "no live worker" in check["error"]


def test_a_job_waiting_past_the_limit_fails_the_check():
    a_live_worker()
    queued = job_samples.count_run.enqueue("old")
    DBTaskResult.objects.filter(pk=queued.id).update(
        enqueued_at=timezone.now() - timedelta(seconds=400)
    )
    check = queue_check()
    assert check["ok"] is False
    assert "has waited 4" in check["error"]


def test_a_fresh_job_with_a_live_worker_is_ready():
    a_live_worker()
    job_samples.count_run.enqueue("fresh")
    check = queue_check()
    assert check["ok"] is True
    assert check["detail"]["due"] == 1
    assert check["detail"]["live_workers"] == 1


def test_a_job_deferred_by_back_off_is_not_due_yet():
    a_live_worker()
    job_samples.count_run.using(run_after=timezone.now() + timedelta(minutes=5)).enqueue("later")
    assert queue_check()["detail"]["due"] == 0


def test_queue_depth_age_and_workers_are_metrics():
    a_live_worker()
    queued = job_samples.count_run.enqueue("measured")
    DBTaskResult.objects.filter(pk=queued.id).update(
        enqueued_at=timezone.now() - timedelta(seconds=30)
    )
    text = Client().get("/metrics").content.decode()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples["shanhai_task_queue_due"] == 1
    assert 30 <= samples["shanhai_task_queue_oldest_due_age_seconds"] < 120
    assert samples["shanhai_task_workers_alive"] == 1
    assert samples["shanhai_task_queue_failed"] == 0
