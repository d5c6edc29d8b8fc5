"""Deliver pending search index updates (the outbox), with retries; the worker runs it every minute
(`search.jobs.search_sync`); this runs it once by hand."""

from django.core.management.base import BaseCommand

from search import indexing, metrics
from search.backends import get_search_backend


class Command(BaseCommand):
    help = (
        "Deliver queued search index updates (outbox) to the database index and the search "
        "engine, after queueing entries gone stale by date or stock. Run every minute."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all",
            action="store_true",
            help="Also retry updates still waiting out their back-off.",
        )
        parser.add_argument(
            "--no-reconcile",
            action="store_true",
            help="Skip looking for entries that expired by date or changed stock.",
        )
        parser.add_argument(
            "--status", action="store_true", help="Only print the backend's status."
        )

    def handle(self, *args, **options):
        if not options["status"]:
            queued = 0 if options["no_reconcile"] else indexing.reconcile()
            report = indexing.drain(include_deferred=options["all"])
            self.stdout.write(
                f"queued {queued} stale, indexed {report.indexed}, deferred {report.deferred}"
            )
            for error in report.errors:
                self.stderr.write(f"engine: {error}")
        self._status()

    def _status(self):
        backend = get_search_backend()
        for key, value in backend.status().items():
            self.stdout.write(f"{key}: {value}")
        for key, value in indexing.pending().items():
            self.stdout.write(f"outbox {key}: {value}")
        for name, data in metrics.snapshot().items():
            last = (
                f" (last {data['updated_at']:%Y-%m-%d %H:%M:%S}: {data['detail']})"
                if (data["updated_at"])
                else ""
            )
            self.stdout.write(f"{name}: {data['value']}{last}")
