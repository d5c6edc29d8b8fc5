"""Compare the ledger with the qualifying orders; exit status 1 on any difference."""

from django.core.management.base import BaseCommand, CommandError

from procurement import ledger


class Command(BaseCommand):
    help = "Reconcile ledger bookings with accepted-and-paid orders, order by order."

    def handle(self, *args, **options):
        expected, booked, differences = ledger.reconcile()
        self.stdout.write(f"Qualifying orders (net of refunds): {expected:,.2f} CNY")
        self.stdout.write(f"Booked from orders:                 {booked:,.2f} CNY")
        for d in differences:
            self.stdout.write(
                f"  {d.order_number}: expected {d.expected:,.2f}, booked {d.booked:,.2f}"
            )
        if differences:
            raise CommandError(f"{len(differences)} orders differ.")
        self.stdout.write("Reconciled: no differences.")
