"""The embedded default: a real `manage.py worker` process on a SQLite file, with no other
server. It runs in the suite's SQLite pass (`make test-sqlite`), where the migrated test
database is copied to a file (SQLite's backup API) for the worker to open; the PostgreSQL pass
has tests/shop/core/test_jobs.py."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from search import indexing
from tests.factories import ProductFactory
from tests.shop.core import job_samples

pytestmark = [
    pytest.mark.smoke,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the SQLite pass runs it (the worker opens a copy of the SQLite test database)",
    ),
]


def test_a_worker_runs_jobs_on_a_sqlite_file_with_no_other_server(settings_override, tmp_path):
    product = ProductFactory()
    with transaction.atomic():
        indexing.products_changed([product.pk])
    job_samples.count_run.enqueue("on-sqlite")
    embedded = tmp_path / "embedded.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(embedded) as copy:
        connection.connection.backup(copy)

    done = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "worker", "--batch"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": f"sqlite:///{embedded}",
            "JOBS_BACKEND": "database",
            "JOBS_SCHEDULES": "tests.shop.core.job_samples.SCHEDULES",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    with sqlite3.connect(embedded) as db:
        jobs = db.execute(
            "SELECT task_path, status FROM django_tasks_database_dbtaskresult ORDER BY task_path"
        ).fetchall()
        runs = db.execute(
            "SELECT count(*) FROM core_auditevent WHERE action = 'test.run' AND object_id = ?",
            ["on-sqlite"],
        ).fetchone()
        outbox = db.execute("SELECT count(*) FROM search_searchoutbox").fetchone()
        indexed = db.execute(
            "SELECT sellable FROM search_productsearchentry WHERE product_id = ?", [product.pk]
        ).fetchone()
    assert jobs == [
        ("search.jobs.drain_outbox", "SUCCESSFUL"),
        ("tests.shop.core.job_samples.count_run", "SUCCESSFUL"),
    ]
    assert runs == (1,)
    assert outbox == (0,)
    assert indexed == (1,)


@pytest.fixture
def settings_override(settings):
    settings.TASKS = {"default": {"BACKEND": "shop.core.job_backend.JobBackend"}}
    settings.JOBS_BACKEND = "database"
