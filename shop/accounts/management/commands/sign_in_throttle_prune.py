"""Delete sign-in throttle rows that no longer throttle anything
(the worker does it daily; this, once by hand)."""

from django.core.management.base import BaseCommand

from shop.accounts import throttle


class Command(BaseCommand):
    help = "Delete sign-in throttle rows with no failure in the window and no recent success."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {throttle.prune()} sign-in throttle rows.")
