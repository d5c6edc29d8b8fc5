"""The rules job as the worker runs it: run twice (a worker died after its effect), the
reminder is still sent once."""

from django.core import mail

from catalog.jobs import catalog_rules
from catalog.models import QualificationReminder
from tests.catalog.test_rules import supplier_with_licence_expiring_in


def test_the_rules_job_run_twice_sends_a_reminder_once(db, django_capture_on_commit_callbacks):
    supplier = supplier_with_licence_expiring_in(5)

    with django_capture_on_commit_callbacks(execute=True):
        first = catalog_rules.enqueue()
        again = catalog_rules.enqueue()

    assert first.return_value == {"reminders": 1, "suspended": 0, "exited": 0}
    assert again.return_value == {"reminders": 0, "suspended": 0, "exited": 0}
    assert QualificationReminder.objects.filter(qualification__supplier=supplier).count() == 1
    assert len({message.subject for message in mail.outbox}) == 1
