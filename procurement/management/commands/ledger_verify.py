"""Verify the ledger's tree against its latest checkpoint; exit status 1 when it does not hold."""

from django.core.management.base import BaseCommand, CommandError

from procurement import ledger


class Command(BaseCommand):
    help = "Check the ledger's entries, tree, latest checkpoint and rollups; name the first fault."

    def handle(self, *args, **options):
        result = ledger.verify()
        if not result.ok:
            raise CommandError(
                f"Ledger broken after {result.entries_checked} good entries: {result.problem}"
            )
        self.stdout.write(
            f"Ledger OK: {result.entries_checked} entries; tree, checkpoint and rollups hold."
        )
