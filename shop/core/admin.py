from django.contrib import admin
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from shop.core.admin_access import NeverWrittenHereMixin, OperatorPermissionsMixin, ReadOnlyAdmin
from shop.core.models import AuditEvent, JobSchedule, WorkerHeartbeat


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail is written by services only."""

    list_display = ["created_at", "actor_email", "action", "object_type", "object_id", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_email", "object_id", "reason"]


# Background work (docs/operations.md): operators see the jobs (a job that gave up keeps its
# traceback here), the schedules' next times and the live workers; nobody edits them here.
admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class JobResultAdmin(NeverWrittenHereMixin, OperatorPermissionsMixin, DBTaskResultAdmin):
    """django-tasks-db's own view (read-only for everyone), opened to operators."""

    list_display = [*DBTaskResultAdmin.list_display, "attempts"]

    @admin.display(description="attempts")
    def attempts(self, obj: DBTaskResult) -> int:
        return len(obj.worker_ids)


@admin.register(JobSchedule)
class JobScheduleAdmin(ReadOnlyAdmin):
    list_display = ["name", "next_run_at", "last_run_at", "last_job_id"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["worker_id", "host", "pid", "started_at", "seen_at"]
