"""Re-send the mock's undelivered webhook events (Stripe retries failed deliveries; the worker
runs this every minute; by hand after the receiver was down)."""

from django.core.management.base import BaseCommand

from shop.payments.mock.delivery import deliver_pending


class Command(BaseCommand):
    help = "Deliver the Stripe mock's undelivered webhook events, oldest first, once each."

    def handle(self, *args, **options) -> None:
        delivered, failed = deliver_pending()
        self.stdout.write(f"{delivered} delivered, {failed} failed")
