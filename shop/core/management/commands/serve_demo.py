"""Migrate, load demo data, print the demo accounts and serve the API."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from shop.accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD


class Command(BaseCommand):
    help = "Serve the API with demo data on http://ADDRPORT/graphql/ (default 127.0.0.1:8000)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        call_command("migrate", verbosity=0, interactive=False)
        call_command("demo_data")
        self.stdout.write(f"\nDemo accounts (password: {DEMO_PASSWORD}):")
        for role, email in DEMO_ACCOUNTS.items():
            self.stdout.write(f"  {role.value:<16} {email}")
        self.stdout.write(f"\nGraphQL API and GraphiQL: http://{addrport}/graphql/\n")
        call_command("runserver", addrport, use_reloader=False)
