"""Background work: jobs on the Django Tasks API, run by `manage.py worker` processes.

A job is a django-tasks `Task` (`@job(...)` below, `task.enqueue(...)` to queue it); with the
database backend (django-tasks-db, the default, SQLite included) it is a row that a worker
claims with SELECT ... FOR UPDATE SKIP LOCKED, so two workers never take one job. On top of
what django-tasks-db's own worker does, `Worker` here adds:

- retries: a job that raises goes back to READY with an exponential back-off
  (`backoff_seconds * 2**(attempt-1)`, capped) until `max_attempts`, then stays FAILED with its
  traceback. The attempt number is the number of workers that claimed the row (`worker_ids`).
- schedules (`shop/schedules.py`, table `JobSchedule`): a due schedule is claimed, its job
  enqueued and its next time set in one transaction, so one due time fires one job however
  many workers run.
- recovery: each worker keeps a heartbeat row fresh from a thread of its own; a job RUNNING
  under a worker not seen for `JOBS_LEASE_SECONDS` (killed, machine gone) is put back to READY
  for another worker. A job may therefore run twice (never at once): jobs are idempotent.
- one log line per job run on the logger `shanhai.jobs`, with the structured fields `job_id`,
  `job_name` (also as `operation_name`), `role` (`worker`), `attempt`, `duration_ms`,
  `db_queries` and `outcome` (succeeded, retrying, failed, abandoned), and the `request_id` of
  the request that enqueued the job (shop/core/job_backend.py; `-` for a schedule's job), which
  every other line logged while the job runs carries too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus, task, task_backends
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from shop.core.middleware import request_id_context
from shop.core.models import JobSchedule, WorkerHeartbeat
from shop.core.observability import count_queries

logger = logging.getLogger("shanhai.jobs")


@dataclass(frozen=True)
class JobOptions:
    max_attempts: int = 5
    backoff_seconds: float = 5.0
    max_backoff_seconds: float = 600.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before the attempt after `attempt` (1-based)."""
        return min(self.backoff_seconds * 2 ** max(attempt - 1, 0), self.max_backoff_seconds)


_OPTIONS: dict[str, JobOptions] = {}


def job(
    *,
    max_attempts: int = 5,
    backoff_seconds: float = 5.0,
    max_backoff_seconds: float = 600.0,
    queue_name: str = "default",
    priority: int = 0,
) -> Callable[[Callable[..., Any]], Task]:
    """Make a module-level function a job (a django-tasks Task) with retry options."""

    def decorate(func: Callable[..., Any]) -> Task:
        made = task(priority=priority, queue_name=queue_name)(func)
        _OPTIONS[made.module_path] = JobOptions(
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            max_backoff_seconds=max_backoff_seconds,
        )
        return made

    return decorate


def options_for(task_path: str) -> JobOptions:
    return _OPTIONS.get(task_path, JobOptions())


def uses_worker(job_task: Task | None = None) -> bool:
    """True when jobs are rows for workers (the database backend), not run on the spot."""
    backend = job_task.get_backend() if job_task is not None else task_backends["default"]
    return isinstance(backend, DatabaseBackend)


def enqueue_many(job_task: Task, calls: list[tuple[tuple, dict[str, Any]]]) -> None:
    """Queue `job_task` once per (args, kwargs) in `calls`: one INSERT with the database
    backend (jobs run on the spot are simply run one after the other)."""
    from shop.core.job_backend import JobBackend

    backend = job_task.get_backend()
    if isinstance(backend, JobBackend):
        backend.enqueue_many(job_task, calls)
        return
    for args, kwargs in calls:
        job_task.enqueue(*args, **kwargs)


def enqueue_on_commit(job_task: Task) -> None:
    """Queue `job_task` (no arguments) once the current transaction commits. With the database
    backend, a job of the same kind still waiting (READY, due) is enough: it has not started,
    so it will see what this transaction committed; that keeps a burst of commits to one job."""

    def enqueue() -> None:
        if uses_worker(job_task):
            # by key: the row may also hold the enqueuing request's id (job_backend.py)
            waiting = DBTaskResult.objects.ready().filter(
                task_path=job_task.module_path, args_kwargs__args=[], args_kwargs__kwargs={}
            )
            if waiting.exists():
                return
        job_task.enqueue()

    transaction.on_commit(enqueue, robust=True)


# --- queue state (readiness and metrics) -----------------------------------------------------


@dataclass(frozen=True)
class QueueState:
    due: int  # READY jobs whose time has come
    oldest_due_age_seconds: float  # how long the oldest of them has been due (0 when none)
    running: int
    failed: int  # jobs that gave up after their last attempt (kept with their traceback)
    live_workers: int  # workers whose heartbeat is within the lease


def queue_state(now: datetime | None = None) -> QueueState:
    """A few indexed reads of the job table and the workers' heartbeats."""
    now = now or timezone.now()
    due = DBTaskResult.objects.ready()
    # A job with no run_after is due since it was enqueued (django-tasks-db stores the largest
    # date for "no run_after"); one deferred (a retry's back-off) since its run_after.
    at_once = due.filter(run_after=get_date_max()).order_by("enqueued_at")
    deferred = due.exclude(run_after=get_date_max()).order_by("run_after")
    oldest = min(
        [
            *at_once.values_list("enqueued_at", flat=True)[:1],
            *deferred.values_list("run_after", flat=True)[:1],
        ],
        default=None,
    )
    lease = timedelta(seconds=float(settings.JOBS_LEASE_SECONDS))
    return QueueState(
        due=due.count(),
        oldest_due_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        running=DBTaskResult.objects.running().count(),
        failed=DBTaskResult.objects.failed().count(),
        live_workers=WorkerHeartbeat.objects.filter(seen_at__gte=now - lease).count(),
    )


# --- schedules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A job run every `every`, at `at` past local midnight (Asia/Shanghai, no daylight
    saving) and each `every` after: every=1h, at=0 is on the hour; every=1d, at=30min is 00:30."""

    name: str
    task_path: str
    every: timedelta
    at: timedelta = timedelta(0)
    # settings attribute that must be true for the schedule to run (e.g. the mock's deliveries)
    only_if_setting: str = ""

    def next_after(self, moment: datetime) -> datetime:
        local = timezone.localtime(moment)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0) + self.at
        steps = (local - start) // self.every + 1
        return start + steps * self.every

    def enabled(self) -> bool:
        return not self.only_if_setting or bool(getattr(settings, self.only_if_setting, False))


def schedules() -> list[Schedule]:
    return [s for s in import_string(settings.JOBS_SCHEDULES) if s.enabled()]


def fire_due_schedules(now: datetime | None = None) -> list[str]:
    """Enqueue the job of every due schedule, once. Returns the names fired."""
    now = now or timezone.now()
    specs = {s.name: s for s in schedules()}
    if not specs:
        return []
    fired = []
    with exclusive_transaction():
        known = set(JobSchedule.objects.filter(name__in=specs).values_list("name", flat=True))
        JobSchedule.objects.bulk_create(
            [
                JobSchedule(name=name, next_run_at=spec.next_after(now))
                for name, spec in specs.items()
                if name not in known
            ],
            ignore_conflicts=True,
        )
        due = JobSchedule.objects.filter(name__in=specs, next_run_at__lte=now)
        for row in due.select_for_update(skip_locked=True):
            spec = specs[row.name]
            result = import_string(spec.task_path).enqueue()
            row.last_run_at = now
            row.last_job_id = str(result.id)
            row.next_run_at = spec.next_after(now)
            row.save(update_fields=["last_run_at", "last_job_id", "next_run_at"])
            fired.append(row.name)
    for name in fired:
        logger.info("schedule %s fired", name, extra={"schedule": name})
    return fired


# --- the worker ---------------------------------------------------------------------------


class WorkerDied(Exception):
    """Recorded on a job whose worker stopped heart-beating on its last allowed attempt."""


def _log(
    row: DBTaskResult,
    *,
    attempt: int,
    started: float,
    outcome: str,
    db_queries: int | None,
    **more: Any,
) -> None:
    duration_ms = round((time.monotonic() - started) * 1000)
    # the request log's field names (operation_name, role, duration_ms, db_queries, outcome),
    # so one query over both logs finds a request and the jobs it caused
    fields = {
        "job_id": str(row.id),
        "job_name": row.task_path,
        "operation_name": row.task_path,
        "role": "worker",
        "attempt": attempt,
        "duration_ms": duration_ms,
        "db_queries": db_queries,
        "outcome": outcome,
        **more,
    }
    level = logging.ERROR if outcome in {"failed", "abandoned"} else logging.INFO
    logger.log(
        level,
        "job %s %s (attempt %d, %d ms)",
        row.task_path,
        outcome,
        attempt,
        duration_ms,
        extra=fields,
    )


def run_claimed(row: DBTaskResult) -> str:
    """Run a job this worker has claimed (status RUNNING); record and log the outcome. The
    job's log lines carry the id of the request that enqueued it, if one did."""
    with request_id_context(str(row.args_kwargs.get("request_id") or "")):
        return _run_claimed(row)


def _run_claimed(row: DBTaskResult) -> str:
    attempt = len(row.worker_ids)
    options = options_for(row.task_path)
    started = time.monotonic()
    counted = None
    try:
        with count_queries() as counted:
            found = row.task
            value = found.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.set_successful(value)
    except Exception as error:
        queries = counted.queries if counted else None
        if attempt < options.max_attempts:
            delay = options.backoff(attempt)
            _retry_later(row, error, delay)
            _log(
                row,
                attempt=attempt,
                started=started,
                outcome="retrying",
                db_queries=queries,
                retry_in_s=delay,
            )
            return "retrying"
        row.set_failed(error)
        _log(row, attempt=attempt, started=started, outcome="failed", db_queries=queries)
        return "failed"
    _log(row, attempt=attempt, started=started, outcome="succeeded", db_queries=counted.queries)
    return "succeeded"


def _retry_later(row: DBTaskResult, error: Exception, delay: float) -> None:
    row.status = TaskResultStatus.READY
    row.run_after = timezone.now() + timedelta(seconds=delay)
    row.exception_class_path = f"{type(error).__module__}.{type(error).__qualname__}"
    # the last error stays readable on the row (admin) while it waits
    row.traceback = "".join(traceback.format_exception(error))
    row.save(update_fields=["status", "run_after", "exception_class_path", "traceback"])


def recover_abandoned(now: datetime | None = None) -> int:
    """Put back jobs RUNNING under a worker not seen for the lease; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOBS_LEASE_SECONDS)
    recovered = 0
    with exclusive_transaction():
        live = set(
            WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True)
        )
        running = DBTaskResult.objects.running().filter(started_at__lt=cutoff)
        for row in running.select_for_update(skip_locked=True):
            if row.worker_ids and row.worker_ids[-1] in live:
                continue
            attempt = len(row.worker_ids)
            started = time.monotonic()
            if attempt < options_for(row.task_path).max_attempts:
                row.status = TaskResultStatus.READY
                row.run_after = now
                row.save(update_fields=["status", "run_after"])
            else:
                row.set_failed(WorkerDied(f"worker {row.worker_ids[-1]} stopped mid-job"))
            # what the dead worker's run queried is not known
            _log(row, attempt=attempt, started=started, outcome="abandoned", db_queries=None)
            recovered += 1
        WorkerHeartbeat.objects.filter(seen_at__lt=cutoff).delete()
    return recovered


class Heartbeat(threading.Thread):
    """Refreshes this worker's heartbeat row on a connection of its own thread."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.stopping = threading.Event()

    def beat(self) -> None:
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"seen_at": now},
            create_defaults={
                "seen_at": now,
                "started_at": now,
                "host": socket.gethostname()[:255],
                "pid": os.getpid(),
            },
        )

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.wait(settings.JOBS_HEARTBEAT_SECONDS):
                try:
                    self.beat()
                except DatabaseError:  # a locked SQLite file, a restart: try again next beat
                    logger.warning("worker %s heartbeat failed", self.worker_id, exc_info=True)
        finally:
            connection.close()


class Worker:
    """Claims and runs jobs, fires due schedules and recovers jobs of dead workers."""

    def __init__(
        self,
        *,
        worker_id: str,
        queue_names: list[str],
        interval: float,
        run_schedules: bool,
        batch: bool = False,
        max_tasks: int | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.queue_names = queue_names
        self.interval = interval
        self.run_schedules = run_schedules
        self.batch = batch
        self.max_tasks = max_tasks
        self.running = True
        self.ran = 0
        self._next_housekeeping = 0.0

    def stop(self) -> None:
        self.running = False

    def claim(self) -> DBTaskResult | None:
        ready = DBTaskResult.objects.ready().filter(backend_name="default")
        if "*" not in self.queue_names:
            ready = ready.filter(queue_name__in=self.queue_names)
        try:
            with exclusive_transaction(ready.db):
                row = ready.get_locked()
                if row is not None:
                    row.claim(self.worker_id)
                return row
        except OperationalError as error:
            if is_locked_database_exception(error):  # SQLite busy: try again next round
                return None
            raise

    def housekeeping(self) -> None:
        """Schedules every second, recovery every quarter lease."""
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + min(1.0, settings.JOBS_LEASE_SECONDS / 4)
        try:
            if self.run_schedules and settings.JOBS_SCHEDULES_ENABLED:
                fire_due_schedules()
            recover_abandoned()
        except OperationalError as error:
            if not is_locked_database_exception(error):
                raise

    def run(self) -> None:
        heartbeat = Heartbeat(self.worker_id)
        heartbeat.beat()  # registered before the first claim
        heartbeat.start()
        logger.info("worker %s started", self.worker_id, extra={"worker_id": self.worker_id})
        try:
            while self.running:
                close_old_connections()
                try:
                    self.housekeeping()
                    row = self.claim()
                except DatabaseError:
                    # the database restarting or unreachable: nothing was claimed, so wait
                    # and try again rather than die (a job's own outcome is not caught
                    # here: if that cannot be recorded the worker stops, and the job is run
                    # again once its lease ends)
                    logger.warning("worker %s cannot reach the database", self.worker_id)
                    time.sleep(max(self.interval, 1.0) * 5)
                    continue
                if row is not None:
                    run_claimed(row)
                    self.ran += 1
                    if self.max_tasks is not None and self.ran >= self.max_tasks:
                        break
                    continue
                if self.batch:
                    break
                time.sleep(self.interval)
        finally:
            heartbeat.stopping.set()
            heartbeat.join(5)
            try:
                WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
            except DatabaseError:  # the lease ends it instead
                pass
            logger.info("worker %s stopped", self.worker_id, extra={"worker_id": self.worker_id})
