"""Stored notifications, each also sent by e-mail through Django's mail backend.

The e-mail leaves as a background job (`send_email`, one per recipient) queued in the action's
transaction (with the database backend the job row commits with it; with jobs run on the spot
they run after commit): a rolled-back action sends nothing, no SMTP conversation happens inside
a transaction, and a mail server that is down is tried again with back-off."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from shop.core.bulk import insert_rows
from shop.core.jobs import enqueue_many, job, uses_worker
from shop.core.models import Notification


@job(max_attempts=8, backoff_seconds=60.0, max_backoff_seconds=3600.0)
def send_email(subject: str, body: str, to: str) -> None:
    """One message to one address (so a retry never re-sends to the others)."""
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)


@dataclass(frozen=True)
class Note:
    """One message for some users: stored for each active one, e-mailed to `email_to` (all of
    them when None) and to `extra_emails`."""

    users: list[Any]  # with pk, email and is_active: User instances or the like
    subject: str
    body: str
    email_to: list[Any] | None = None
    extra_emails: tuple[str, ...] = ()

    def recipients(self) -> list[str]:
        mailed = self.users if self.email_to is None else self.email_to
        addresses = {user.email for user in mailed if user.is_active}
        return sorted(addresses | {e for e in self.extra_emails if e})


def notify_many(notes: list[Note]) -> int:
    """Store every note's notifications in one INSERT and queue its e-mails (see the module
    docstring). Returns how many notifications were stored."""
    rows = [
        Notification(user_id=user.pk, subject=note.subject, body=note.body)
        for note in notes
        for user in note.users
        if user.is_active
    ]
    insert_rows(rows)
    mails = [(note.subject, note.body, to) for note in notes for to in note.recipients()]
    if mails:

        def queue() -> None:
            enqueue_many(send_email, [(mail, {}) for mail in mails])

        if uses_worker(send_email):
            queue()  # job rows committed with the action: a crash after commit loses no e-mail
        else:
            transaction.on_commit(queue, robust=True)  # run on the spot: only once committed
    return len(rows)


def notify(
    *, users: Iterable[Any], subject: str, body: str, extra_emails: Iterable[str] = ()
) -> int:
    """Store a notification for each active user and e-mail them and `extra_emails`."""
    return notify_many(
        [Note(users=list(users), subject=subject, body=body, extra_emails=tuple(extra_emails))]
    )
