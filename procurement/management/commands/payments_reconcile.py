"""Settle card payments and refunds left PENDING, and book refunds made at the gateway.

The worker runs it every 5 minutes (the signed webhook normally settles everything first);
exit status 1 when the gateway could not be read for some of them (they stay PENDING and the
next run tries again)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from procurement.services.payments import payments_reconcile


class Command(BaseCommand):
    help = "Settle pending card payments and refunds with the gateway (see docs/payments.md)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--abandon-after-hours",
            type=float,
            default=24,
            help="cancel card payments nobody confirmed within this many hours (default 24)",
        )
        parser.add_argument(
            "--refunds-within-days",
            type=float,
            default=90,
            help="look for refunds made at the gateway on payments this recent (default 90)",
        )

    def handle(self, *args, abandon_after_hours: float, refunds_within_days: float, **options):
        report = payments_reconcile(
            abandon_after=timedelta(hours=abandon_after_hours),
            refunds_within=timedelta(days=refunds_within_days),
        )
        self.stdout.write(
            f"{report.payments_checked} payments and {report.refunds_checked} refunds checked, "
            f"{report.cancelled} abandoned payments cancelled"
        )
        for error in report.errors:
            self.stderr.write(f"  {error}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} could not be settled; they stay pending.")
