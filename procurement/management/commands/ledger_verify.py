"""Verify the ledger's hash chain; exit status 1 when it is broken."""

from django.core.management.base import BaseCommand, CommandError

from procurement import ledger


class Command(BaseCommand):
    help = "Walk the contribution ledger's hash chain and report the first broken link."

    def handle(self, *args, **options):
        result = ledger.verify()
        if not result.ok:
            raise CommandError(
                f"Ledger broken after {result.entries_checked} good entries: {result.problem}"
            )
        self.stdout.write(f"Ledger OK: {result.entries_checked} entries, chain intact.")
