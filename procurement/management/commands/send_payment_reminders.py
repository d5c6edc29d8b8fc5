"""Remind buyers of accepted orders whose payment is nearly or already due.

Run it daily (a scheduler will); it is idempotent, so running it twice sends each reminder
once."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from procurement.services.payment_terms import send_payment_reminders


class Command(BaseCommand):
    help = "Send payment reminders before and on the due date (see docs/decisions.md)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", help="the business date to act as of (YYYY-MM-DD; default: today)"
        )

    def handle(self, *args, today: str | None = None, **options):
        try:
            as_of = date.fromisoformat(today) if today else None
        except ValueError as error:
            raise CommandError("--today must be YYYY-MM-DD.") from error
        report = send_payment_reminders(today=as_of)
        self.stdout.write(f"{report.sent} reminders sent, {report.already_sent} already sent")
