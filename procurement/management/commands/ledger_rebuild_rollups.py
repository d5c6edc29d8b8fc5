"""Recompute the ledger's rollups (month and year cells) from its entries."""

from django.core.management.base import BaseCommand
from django.db import transaction

from procurement.reports import rollups


class Command(BaseCommand):
    help = "Rebuild the contribution rollups from the entries (after a restore or to check them)."

    def handle(self, *args, **options):
        with transaction.atomic():
            count = rollups.rebuild()
        self.stdout.write(f"Rolled up {count} entries.")
