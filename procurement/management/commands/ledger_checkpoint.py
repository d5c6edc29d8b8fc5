"""Sequence the newly booked entries into the ledger's Merkle tree and sign a checkpoint.

The worker runs it on the hour, Asia/Shanghai (docs/operations.md); this runs it once."""

from django.core.management.base import BaseCommand

from procurement.reports import rollups
from procurement.transparency import store


class Command(BaseCommand):
    help = "Add new ledger entries to the Merkle tree and sign a checkpoint of its size and root."

    def handle(self, *args, **options):
        rollups.fold()
        made = store.checkpoint()
        self.stdout.write(
            f"Checkpoint: tree size {made.tree_size}, root {made.root_hash}, at {made.timestamp}."
        )
