from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when and why. Written by services, never edited."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    # Snapshots: the event must still say who acted if the account changes later.
    actor_email = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64, db_index=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or 'system'} {self.action}"


class Notification(models.Model):
    """A message kept for a user (and also e-mailed): reminders, status changes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.subject}"


class JobSchedule(models.Model):
    """When a periodic job (shop/schedules.py) is next due. A worker claims a due row with
    SELECT ... FOR UPDATE SKIP LOCKED (SQLite: an exclusive transaction), enqueues the job and
    moves `next_run_at` on in the same transaction, so one due time fires exactly one job
    however many workers look at it."""

    name = models.CharField(max_length=64, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_job_id = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.name} next {self.next_run_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """A live worker process: `seen_at` is refreshed by a thread of its own every few seconds.
    A job left RUNNING by a worker whose heartbeat is older than the lease (the process was
    killed, its machine died) is put back to run again by another worker."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.host} pid {self.pid}"


class TransitionRecord(models.Model):
    """One line of a lifecycle's history (shop/core/lifecycle.py): a status move, or an event
    that is not one (an order's payment), with who, why and when. Supplier, product and order
    histories share this shape; each adds the foreign key to its subject."""

    # What happened, in the domain's words ("admit", "shipment", "paid"); for a plain move the
    # new status in lower case.
    kind = models.CharField(max_length=32, blank=True)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Snapshot: the history must still say who acted after the account is gone.
    actor_email = models.CharField(max_length=254, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]
