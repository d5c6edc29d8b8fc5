"""Jobs the worker tests enqueue into real worker processes (imported there by dotted path,
like any job). Their effects are AuditEvent rows, so a test can count what really happened."""

import os
import time
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from shop.core.jobs import Schedule, job
from shop.core.models import AuditEvent


def _mark(action: str, key: str) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        object_type="test-job",
        object_id=key,
        data={"pid": os.getpid(), "at": timezone.now().isoformat()},
    )


@job()
def count_run(key: str) -> int:
    """Not idempotent on purpose: every run leaves a row, so a job run twice shows."""
    _mark("test.run", key)
    time.sleep(0.02)
    return os.getpid()


@job(max_attempts=3, backoff_seconds=0.4, max_backoff_seconds=10)
def always_fails(key: str) -> None:
    _mark("test.attempt", key)
    raise RuntimeError(f"{key} cannot be done")


@job()
def effect_once(key: str, started_file: str, hold_seconds: float) -> str:
    """Idempotent: the effect is committed once per key; a run that finds it done does nothing.
    After committing it the first run signals `started_file` and holds (to be killed there)."""
    with transaction.atomic():
        done = (
            AuditEvent.objects.select_for_update()
            .filter(action="test.effect", object_id=key)
            .exists()
        )
        if not done:
            _mark("test.effect", key)
    if done:
        return "already done"
    Path(started_file).touch()
    time.sleep(hold_seconds)
    return "done"


@job()
def scheduled_tick() -> None:
    _mark("test.tick", "hourly")


SCHEDULES = [
    Schedule("test_hourly", "tests.shop.core.job_samples.scheduled_tick", every=timedelta(hours=1))
]
