"""Migrate, load demo data, print the demo accounts and serve the API, with the Stripe mock in a
process of its own and a background worker (`manage.py worker`) beside it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from shop.accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD


def split_addrport(addrport: str) -> tuple[str, int]:
    host, _, port = addrport.rpartition(":")
    if not port.isdigit():
        raise CommandError(f"Expected HOST:PORT, got {addrport!r}.")
    return host or "127.0.0.1", int(port)


class Command(BaseCommand):
    help = (
        "Serve the API with demo data on http://ADDRPORT/graphql/ (default 127.0.0.1:8000) and "
        "the Stripe mock on the next port, in its own process."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--mock-port",
            type=int,
            default=None,
            help="port of the Stripe mock's own process (default: the API's port + 1)",
        )

    def handle(self, *args, addrport: str, mock_port: int | None, **options):
        host, port = split_addrport(addrport)
        call_command("migrate", verbosity=0, interactive=False)
        call_command("demo_data")
        self.stdout.write(f"\nDemo accounts (password: {DEMO_PASSWORD}):")
        for role, email in DEMO_ACCOUNTS.items():
            self.stdout.write(f"  {role.value:<16} {email}")
        self.stdout.write(f"\nGraphQL API and GraphiQL: http://{host}:{port}/graphql/\n")
        mock = self._start_mock(host, port, mock_port or port + 1)
        worker = self._start_worker()
        # Stopped by SIGTERM as by Ctrl-C: unwind, so the other processes are stopped too.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            for process in (worker, mock):
                if process is not None:
                    process.terminate()  # the worker finishes its job first
                    process.wait(30)

    def _start_worker(self) -> subprocess.Popen:
        """Jobs (the search outbox, webhook deliveries, rules, ledger checks, the periodic
        schedules) run in a worker process, never in a request (docs/operations.md)."""
        self.stdout.write("Background worker: manage.py worker (its own process)\n")
        manage = Path(settings.BASE_DIR) / "manage.py"
        return subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, str(manage), "worker"], env=os.environ.copy()
        )

    def _start_mock(self, host: str, port: int, mock_port: int) -> subprocess.Popen | None:
        """The gateway and webhook addresses follow where the API is served. The mock runs in
        a process of its own, so a payment (the API waiting on the gateway) never waits for
        a free worker of the API itself."""
        site = f"http://{host}:{port}"
        addresses = {
            "SITE_URL": site,
            "STRIPE_MOCK_WEBHOOK_URL": f"{site}/webhooks/stripe/",
        }
        if settings.STRIPE_MOCK_ENABLED and "STRIPE_API_BASE" not in os.environ:
            addresses["STRIPE_API_BASE"] = f"http://{host}:{mock_port}/stripe-mock"
        for name, value in addresses.items():
            if name not in os.environ:
                setattr(settings, name, value)
                os.environ[name] = value
        if "STRIPE_API_BASE" not in addresses:
            return None
        self.stdout.write(f"Stripe mock (its own process): {settings.STRIPE_API_BASE}/\n")
        manage = Path(settings.BASE_DIR) / "manage.py"
        return subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, str(manage), "runserver", f"{host}:{mock_port}", "--noreload"],
            env={**os.environ, "STRIPE_MOCK_ENABLED": "true"},
            stdout=subprocess.DEVNULL,
        )
