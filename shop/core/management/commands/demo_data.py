"""Fill the database with demo data, step by step, idempotently."""

from collections.abc import Iterable
from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction
from rich.progress import Progress

# Each step is "module:function"; a function takes a `progress(iterable, description=…)`
# wrapper and returns a one-line summary. Later apps append their steps here.
DEMO_STEPS = [
    "shop.accounts.demo:load",
    "catalog.demo:load",
    "search.demo:load",
    "procurement.demo:load",
]


class Command(BaseCommand):
    help = "Load demo data (safe to run again: existing rows are kept)."

    def handle(self, *args, **options):
        with Progress(transient=False) as bar:

            def progress(items: Iterable, description: str) -> Iterable:
                items = list(items)
                yield from bar.track(items, total=len(items), description=description)

            for step in DEMO_STEPS:
                module_name, function_name = step.split(":")
                with transaction.atomic():
                    summary = getattr(import_module(module_name), function_name)(progress)
                bar.console.print(f"[green]✓[/green] {summary}")
