"""Print precision@5 and MRR of the judged relevance set (search/relevance.py) per backend."""

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from search import conf
from search.backends.database import DatabaseSearchBackend
from search.backends.elasticsearch import ENGINE_ERRORS, ElasticsearchSearchBackend
from search.relevance import JUDGED, EngineDidNotAnswer, evaluate


class Command(BaseCommand):
    help = (
        "Score the search backends on the judged relevance set over the demo catalog "
        "(load it with `demo_data`): precision@5, MRR and recall@10 per backend and kind."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--backend",
            choices=["database", "elasticsearch", "all"],
            default="all",
            help="all: the database, and the engine when ELASTICSEARCH_URL is set.",
        )
        parser.add_argument(
            "--reindex", action="store_true", help="Rebuild each backend's index first."
        )
        parser.add_argument("--queries", action="store_true", help="Print every query's score.")

    def handle(self, *args, **options):
        backends = []
        if options["backend"] in ("database", "all"):
            backends.append(DatabaseSearchBackend())
        if options["backend"] == "elasticsearch" or (
            options["backend"] == "all" and conf.engine_url()
        ):
            if not conf.engine_url():
                raise CommandError("ELASTICSEARCH_URL is not set.")
            backends.append(ElasticsearchSearchBackend(retry_seconds=0))
        console = Console(file=self.stdout, width=120)
        summary = Table(title=f"Search relevance: {len(JUDGED)} judged queries")
        for column in ("backend", "precision@5", "MRR", "recall@10"):
            summary.add_column(column, justify="left" if column == "backend" else "right")
        per_kind = Table(title="Per kind: precision@5 / MRR / recall@10 (queries)")
        per_kind.add_column("kind")
        for backend in backends:
            per_kind.add_column(backend.name, justify="right")
        kind_rows: dict[str, list[str]] = {kind: [] for kind in self._kinds()}
        for backend in backends:
            try:
                if options["reindex"]:
                    backend.rebuild()
                report = evaluate(backend)
            except (EngineDidNotAnswer, *ENGINE_ERRORS) as error:
                summary.add_row(backend.name, "-", "-", "-")
                for cells in kind_rows.values():
                    cells.append("-")
                self.stderr.write(f"{backend.name}: no figures: {error}")
                continue
            except LookupError as error:
                raise CommandError(str(error)) from error
            kinds = report.by_kind()
            summary.add_row(
                backend.name,
                f"{report.precision_at_5:.3f}",
                f"{report.mrr:.3f}",
                f"{report.recall_at_10:.3f}",
            )
            for kind, cells in kind_rows.items():
                p, m, r, n = kinds[kind]
                cells.append(f"{p:.2f} / {m:.2f} / {r:.2f} ({n})")
            if options["queries"]:
                detail = Table(title=f"{backend.name}: per query")
                for column in ("query", "filters", "P@5", "RR", "R@10", "note", "top 3"):
                    detail.add_column(column)
                for score in report.scores:
                    detail.add_row(
                        score.judged.query,
                        str(score.judged.filters or ""),
                        f"{score.precision_at_5:.2f}",
                        f"{score.reciprocal_rank:.2f}",
                        f"{score.recall_at_10:.2f}",
                        ("partial " if score.partial else "")
                        + (f"→ {score.corrected_query}" if score.corrected_query else ""),
                        " | ".join(score.top[:3]),
                    )
                console.print(detail)
        for kind, cells in kind_rows.items():
            per_kind.add_row(kind, *cells)
        console.print(summary)
        console.print(per_kind)

    @staticmethod
    def _kinds() -> list[str]:
        return list(dict.fromkeys(item.kind for item in JUDGED))
