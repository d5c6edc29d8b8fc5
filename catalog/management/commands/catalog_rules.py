"""Run the automatic admission-and-exit rules once, by hand
(the worker runs them every 5 minutes)."""

from django.core.management.base import BaseCommand

from catalog.services.rules import run_rules


class Command(BaseCommand):
    help = "Send qualification expiry reminders, suspend on expiry, exit on upheld complaints."

    def handle(self, *args, **options):
        report = run_rules()
        for title, lines in (
            ("reminders sent", report.reminders),
            ("suspended", report.suspended),
            ("exited", report.exited),
        ):
            self.stdout.write(f"{title}: {len(lines)}")
            for line in lines:
                self.stdout.write(f"  {line}")
