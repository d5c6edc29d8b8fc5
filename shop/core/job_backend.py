"""The database task backend, with the id of the request that enqueued a job.

django-tasks-db's `DatabaseBackend` stores a job as a row whose `args_kwargs` holds
`{"args": [...], "kwargs": {...}}`. A job enqueued while a request is served also gets
`"request_id"` there, so the worker's log line for the job (shop/core/jobs.py) carries the id of
the request that caused it and the two lines join up. django-tasks-db reads only `args` and
`kwargs` back. Kept apart from shop/core/jobs.py, which imports models: the backend is built
when the first `@task` is declared, possibly before the apps are ready.
"""

from typing import Any

from django_tasks.signals import task_enqueued
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.compat import Task, normalize_json

from shop.core.middleware import current_request_id


def _args_kwargs(args: Any, kwargs: Any) -> dict[str, Any]:
    stored = {"args": args, "kwargs": kwargs}
    if request_id := current_request_id():
        stored["request_id"] = request_id
    return normalize_json(stored)


class JobBackend(DatabaseBackend):
    def _task_to_db_task(self, task: Task, args: Any, kwargs: Any):
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.create(**self._row(task, args, kwargs))

    async def _atask_to_db_task(self, task: Task, args: Any, kwargs: Any):
        from django_tasks_db.models import DBTaskResult

        return await DBTaskResult.objects.acreate(**self._row(task, args, kwargs))

    def enqueue_many(self, task: Task, calls: list[tuple[tuple, dict[str, Any]]]) -> None:
        """`task` once per (args, kwargs) in `calls`, as one INSERT: a checkout's e-mails are
        several jobs (one per recipient, so a retry re-sends to nobody else) but one statement."""
        from django_tasks_db.models import DBTaskResult, get_date_max

        from shop.core.bulk import insert_rows

        self.validate_task(task)
        rows = [DBTaskResult(**self._row(task, args, kwargs)) for args, kwargs in calls]
        for row in rows:  # what django-tasks-db's pre_save receiver does, which bulk_create skips
            if row.run_after is None:
                row.run_after = get_date_max()
        insert_rows(rows)
        if task_enqueued.has_listeners(type(self)):  # what `enqueue` sends, for each job
            for row in rows:
                task_enqueued.send(type(self), task_result=row.task_result)

    def _row(self, task: Task, args: Any, kwargs: Any) -> dict[str, Any]:
        # the fields DatabaseBackend writes, with the request id added to args_kwargs
        return {
            "id": self._get_id(),
            "args_kwargs": _args_kwargs(args, kwargs),
            "priority": task.priority,
            "task_path": task.module_path,
            "queue_name": task.queue_name,
            "run_after": task.run_after,
            "backend_name": self.alias,
        }
