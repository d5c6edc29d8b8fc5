"""Rebuild the search indexes from the catalog, with a progress bar; the engine's alias is
swapped to the new index only when it is complete (zero downtime)."""

import time

from django.core.management.base import BaseCommand, CommandError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from catalog.models import Product
from search.backends import EngineUnavailable, get_search_backend
from search.backends.database import DatabaseSearchBackend
from search.backends.elasticsearch import ENGINE_ERRORS
from search.models import ProductSearchEntry


class Command(BaseCommand):
    help = (
        "Rebuild the database search table and, with the Elasticsearch/OpenSearch backend, a "
        "new engine index that replaces the old one atomically."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--engine-only",
            action="store_true",
            help="Reuse the database search table; only rebuild the engine index.",
        )
        parser.add_argument(
            "--database-only",
            action="store_true",
            help="Only rebuild the database search table.",
        )
        parser.add_argument(
            "--keep-old", action="store_true", help="Keep the previous engine index."
        )

    def handle(self, *args, **options):
        backend = get_search_backend()
        engine = getattr(backend, "reindex", None)
        if options["engine_only"] and engine is None:
            raise CommandError("The configured search backend has no engine index.")
        columns = (
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8} /s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=None) as bar:
            if not options["engine_only"]:
                total = Product.objects.count()
                task = bar.add_task("database search table", total=total, rate="")
                self._run(bar, task, lambda p: DatabaseSearchBackend().rebuild(progress=p))
            if engine is not None and not options["database_only"]:
                total = ProductSearchEntry.objects.count()
                task = bar.add_task(f"engine index {backend.alias}", total=total, rate="")
                try:
                    self._run(
                        bar,
                        task,
                        lambda p: engine(progress=p, delete_old=not options["keep_old"]),
                    )
                except (EngineUnavailable, *ENGINE_ERRORS) as error:
                    raise CommandError(f"The search engine failed: {error}") from error
        status = backend.status()
        self.stdout.write(
            "done: " + ", ".join(f"{k}={v}" for k, v in status.items() if k != "backend")
        )

    @staticmethod
    def _run(bar, task, work):
        started = time.monotonic()

        def progress(count: int) -> None:
            bar.advance(task, count)
            done = bar.tasks[task].completed
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, rate=f"{done / elapsed:,.0f}")

        done = work(progress)
        bar.update(task, completed=bar.tasks[task].total or done)
        return done
