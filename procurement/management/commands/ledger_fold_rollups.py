"""Add the entries booked since the last fold to the ledger's rollup cells.

The worker runs it every few seconds (docs/operations.md); this runs it once."""

from django.core.management.base import BaseCommand

from procurement.reports import rollups


class Command(BaseCommand):
    help = "Fold the pending ledger entries into the rollup cells (month and year)."

    def handle(self, *args, **options):
        self.stdout.write(f"Folded {rollups.fold()} entries into the rollups.")
