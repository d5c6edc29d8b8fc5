"""Background work with real `manage.py worker` processes on the test PostgreSQL: pick-up,
two workers never sharing a job or a due schedule, retries with back-off, a worker killed
mid-job, the search outbox drained by a worker, and a periodic schedule firing."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from graphql_relay import to_global_id

from search import indexing
from search.jobs import drain_outbox
from search.models import ProductSearchEntry, SearchOutbox
from shop.core.jobs import enqueue_on_commit
from shop.core.middleware import request_id_context
from shop.core.models import AuditEvent, JobSchedule, WorkerHeartbeat
from tests.conftest import GraphQLClient
from tests.factories import ProductFactory, VariantFactory
from tests.procurement import flows
from tests.shop.core import job_samples
from tests.shop.core.test_request_log import JsonLines

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# the production backend: django-tasks-db's, also storing the enqueuing request's id
DATABASE_JOBS = {"default": {"BACKEND": "shop.core.job_backend.JobBackend"}}


@pytest.fixture
def database_jobs(settings):
    settings.TASKS = DATABASE_JOBS
    settings.JOBS_BACKEND = "database"


def worker_environment(**more: str) -> dict[str, str]:
    """The test database, short heartbeats and leases, and the test schedules."""
    db = connection.settings_dict
    url = (
        f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}"
        f"@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    return {
        **os.environ,
        "DATABASE_URL": url,
        "JOBS_BACKEND": "database",
        "JOBS_HEARTBEAT_SECONDS": "0.3",
        "JOBS_LEASE_SECONDS": "2",
        "JOBS_SCHEDULES": "tests.shop.core.job_samples.SCHEDULES",
        "PYTHONUNBUFFERED": "1",
        **more,
    }


class Workers:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, worker_id: str, **env: str) -> subprocess.Popen:
        log = (self.logs / f"{worker_id}.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(django_settings.BASE_DIR) / "manage.py"),
                "worker",
                "--worker-id",
                worker_id,
                "--interval",
                "0.1",
            ],
            cwd=django_settings.BASE_DIR,
            env=worker_environment(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[worker_id] = process
        return process

    def output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()}" for path in sorted(self.logs.glob("*.log"))
        )

    def wait_for(self, what: str, condition: Callable[[], bool], within: float = 40) -> None:
        """Poll until `condition` holds; `within` only bounds a hung test."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}\n{self.output()}")
            time.sleep(0.1)

    def wait_alive(self, *worker_ids: str) -> None:
        self.wait_for(
            f"workers {worker_ids} to start",
            lambda: (
                WorkerHeartbeat.objects.filter(worker_id__in=worker_ids).count() == len(worker_ids)
            ),
        )

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(database_jobs, tmp_path) -> Iterator[Workers]:
    running = Workers(tmp_path)
    yield running
    running.stop_all()  # before the test database is flushed


@contextmanager
def attached(handler: logging.Handler, logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def result_of(task_result) -> DBTaskResult:
    return DBTaskResult.objects.get(pk=task_result.id)


def finished(task_result) -> bool:
    return result_of(task_result).status in {TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED}


def marks(action: str, key: str | None = None):
    rows = AuditEvent.objects.filter(action=action)
    return rows.filter(object_id=key) if key is not None else rows


def test_a_worker_process_runs_a_queued_job(workers):
    queued = job_samples.count_run.enqueue("one")
    worker = workers.start("w1")
    workers.wait_for("the job", lambda: finished(queued))

    row = result_of(queued)
    assert row.status == TaskResultStatus.SUCCESSFUL
    assert row.return_value == worker.pid
    assert row.worker_ids == ["w1"]
    assert marks("test.run", "one").count() == 1


def test_two_workers_never_run_one_job_twice(workers):
    first, second = workers.start("w1"), workers.start("w2")
    workers.wait_alive("w1", "w2")
    queued = [job_samples.count_run.enqueue(f"job-{n}") for n in range(20)]
    workers.wait_for("every job", lambda: all(finished(q) for q in queued))

    for q in queued:
        row = result_of(q)
        assert row.status == TaskResultStatus.SUCCESSFUL
        assert len(row.worker_ids) == 1
    runs = marks("test.run")
    assert sorted(runs.values_list("object_id", flat=True)) == sorted(f"job-{n}" for n in range(20))
    assert {run.data["pid"] for run in runs} == {first.pid, second.pid}


def test_two_workers_fire_a_due_schedule_once(workers):
    workers.start("w1"), workers.start("w2")
    workers.wait_alive("w1", "w2")
    workers.wait_for("the schedule row", JobSchedule.objects.filter(name="test_hourly").exists)
    # Due now, while both workers look at it every half second.
    JobSchedule.objects.filter(name="test_hourly").update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )
    workers.wait_for("the scheduled job", marks("test.tick").exists)
    time.sleep(2)  # both workers look again a few more times

    assert marks("test.tick").count() == 1
    scheduled = DBTaskResult.objects.filter(task_path=job_samples.scheduled_tick.module_path)
    assert scheduled.count() == 1
    schedule = JobSchedule.objects.get(name="test_hourly")
    assert schedule.last_job_id == str(scheduled.get().pk)
    assert schedule.next_run_at > timezone.now()


def test_a_failing_job_retries_with_back_off_then_gives_up(workers):
    queued = job_samples.always_fails.enqueue("doomed")
    workers.start("w1")
    workers.wait_for("the last attempt", lambda: finished(queued))

    row = result_of(queued)
    assert row.status == TaskResultStatus.FAILED
    assert row.worker_ids == ["w1", "w1", "w1"]
    assert row.exception_class_path == "builtins.RuntimeError"
    assert "doomed cannot be done" in row.traceback
    attempts = [
        datetime.fromisoformat(mark.data["at"])
        for mark in marks("test.attempt", "doomed").order_by("id")
    ]
    assert len(attempts) == 3
    # 0.4 s after the first failure, then twice that
    assert attempts[1] - attempts[0] >= timedelta(seconds=0.4)
    assert attempts[2] - attempts[1] >= timedelta(seconds=0.8)


def test_a_job_whose_worker_is_killed_runs_again_and_takes_effect_once(workers, tmp_path):
    started = tmp_path / "started"
    queued = job_samples.effect_once.enqueue("payout-7", str(started), 60)
    doomed = workers.start("doomed")
    workers.wait_for("the job to start", started.exists)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert result_of(queued).status == TaskResultStatus.RUNNING

    workers.start("rescuer")
    workers.wait_for("the job to run again", lambda: finished(queued))

    row = result_of(queued)
    assert row.status == TaskResultStatus.SUCCESSFUL
    assert row.worker_ids == ["doomed", "rescuer"]
    assert row.return_value == "already done"
    assert marks("test.effect", "payout-7").count() == 1
    assert not WorkerHeartbeat.objects.filter(worker_id="doomed").exists()


def test_the_search_outbox_drains_in_a_worker_not_in_the_committing_process(workers):
    product = ProductFactory()
    for _ in range(3):  # a burst of commits
        with transaction.atomic():
            indexing.products_changed([product.pk])

    assert SearchOutbox.objects.filter(product_id=product.pk).count() == 3
    assert not ProductSearchEntry.objects.filter(pk=product.pk).exists()
    drains = DBTaskResult.objects.filter(task_path=drain_outbox.module_path)
    assert drains.count() == 1  # one waiting drain covers the burst

    workers.start("w1")
    workers.wait_for("the drain", lambda: not SearchOutbox.objects.exists())

    assert ProductSearchEntry.objects.get(pk=product.pk).sellable is True
    assert drains.get().status == TaskResultStatus.SUCCESSFUL


def test_the_search_sync_schedule_fires_in_a_worker(workers):
    product = ProductFactory()  # no entry yet: the sweep finds and indexes it
    JobSchedule.objects.create(name="search_sync", next_run_at=timezone.now() - timedelta(hours=1))

    workers.start("w1", JOBS_SCHEDULES="shop.schedules.SCHEDULES")
    workers.wait_for("the sweep", ProductSearchEntry.objects.filter(pk=product.pk).exists)

    schedule = JobSchedule.objects.get(name="search_sync")
    assert schedule.next_run_at > timezone.now()
    assert DBTaskResult.objects.get(pk=schedule.last_job_id).task_path == "search.jobs.search_sync"


def test_each_job_run_logs_one_structured_line(database_jobs, caplog):
    queued = job_samples.count_run.enqueue("logged")
    with caplog.at_level(logging.INFO, logger="shanhai.jobs"):
        call_command("worker", "--batch", "--no-schedules", "--worker-id", "inline")

    [line] = [r for r in caplog.records if getattr(r, "job_id", None) == str(queued.id)]
    assert line.name == "shanhai.jobs"
    assert line.job_name == "tests.shop.core.job_samples.count_run"
    assert line.operation_name == line.job_name
    assert line.role == "worker"
    assert line.attempt == 1
    assert line.outcome == "succeeded"
    assert isinstance(line.duration_ms, int)
    assert line.duration_ms >= 0
    assert line.db_queries == 1  # count_run's one INSERT; not the worker's own bookkeeping


def test_a_job_enqueued_outside_a_request_logs_no_request_id(database_jobs, caplog):
    queued = job_samples.count_run.enqueue("scheduled")
    jobs_log = JsonLines()
    with caplog.at_level(logging.INFO, logger="shanhai.jobs"), attached(jobs_log, "shanhai.jobs"):
        call_command("worker", "--batch", "--no-schedules", "--worker-id", "inline")

    assert "request_id" not in result_of(queued).args_kwargs
    [line] = [
        line for line in map(json.loads, jobs_log.lines) if line.get("job_id") == str(queued.id)
    ]
    assert line["request_id"] == "-"


STOCK_UPDATE = """mutation($id: ID!, $quantity: Int!) {
  stockUpdate(variantId: $id, quantity: $quantity) { errors { code } } }"""


def test_a_job_enqueued_by_a_request_logs_that_requests_id(database_jobs, caplog):
    variant = VariantFactory(stock=5)
    staff = flows.staff_of(variant.product.supplier)
    response = GraphQLClient().raw(
        STOCK_UPDATE, {"id": to_global_id("ProductVariant", variant.pk), "quantity": 9}, user=staff
    )
    assert response.json()["data"]["stockUpdate"]["errors"] == []
    request_id = response["X-Request-ID"]
    [drain] = DBTaskResult.objects.filter(task_path="search.jobs.drain_outbox")
    assert drain.args_kwargs["request_id"] == request_id

    jobs_log = JsonLines()
    with caplog.at_level(logging.INFO, logger="shanhai.jobs"), attached(jobs_log, "shanhai.jobs"):
        call_command("worker", "--batch", "--no-schedules", "--worker-id", "inline")

    [line] = [
        line for line in map(json.loads, jobs_log.lines) if line.get("job_id") == str(drain.pk)
    ]
    assert line["request_id"] == request_id
    assert line["outcome"] == "succeeded"
    assert line["db_queries"] > 0


def test_commits_of_two_requests_share_one_waiting_job_with_the_first_ones_id(database_jobs):
    for request_id in ("first-request", "second-request"):
        with request_id_context(request_id), transaction.atomic():
            enqueue_on_commit(drain_outbox)

    [drain] = DBTaskResult.objects.filter(task_path="search.jobs.drain_outbox")
    assert drain.args_kwargs == {"args": [], "kwargs": {}, "request_id": "first-request"}
