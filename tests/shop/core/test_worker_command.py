"""`manage.py worker` refuses what it cannot do, with a clear message."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_the_worker_refuses_to_start_when_jobs_run_immediately():
    # the suite's own setting (tests/conftest.py): jobs run where they are enqueued
    with pytest.raises(CommandError, match="JOBS_BACKEND is not 'database'"):
        call_command("worker", "--batch")


def test_the_worker_refuses_an_over_long_worker_id(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with pytest.raises(CommandError, match="at most 64 characters"):
        call_command("worker", "--batch", "--worker-id", "w" * 65)
