"""Sequence the newly booked entries into the ledger's Merkle tree and sign a checkpoint.

Run it from the scheduler hourly and just after each midnight Asia/Shanghai (docs/ledger.md)."""

from django.core.management.base import BaseCommand

from procurement.transparency import store


class Command(BaseCommand):
    help = "Add new ledger entries to the Merkle tree and sign a checkpoint of its size and root."

    def handle(self, *args, **options):
        made = store.checkpoint()
        self.stdout.write(
            f"Checkpoint: tree size {made.tree_size}, root {made.root_hash}, at {made.timestamp}."
        )
