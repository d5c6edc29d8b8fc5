"""Stored notifications, each also sent by e-mail through Django's mail backend."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction

from shop.core.models import Notification


def notify(
    *, users: Iterable[Any], subject: str, body: str, extra_emails: Iterable[str] = ()
) -> int:
    """Store a notification for each active user and e-mail them (after commit, so a rolled
    back action sends nothing). Returns how many notifications were stored."""
    users = [user for user in users if user.is_active]
    Notification.objects.bulk_create(
        [Notification(user=user, subject=subject, body=body) for user in users]
    )
    recipients = sorted({user.email for user in users} | {e for e in extra_emails if e})
    if recipients:
        messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients]
        transaction.on_commit(lambda: send_mass_mail(messages, fail_silently=False))
    return len(users)
