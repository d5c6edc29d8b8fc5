from typing import Any

from django.apps import AppConfig


def _product_search(text: str, **options: Any) -> Any:
    # The GraphQL adapter is imported on first use, not while apps load.
    from search.graphql.queries import search_product_list

    return search_product_list(text, **options)


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        # Catalog announces its changes and asks for text search through its hooks, so
        # catalog never imports search.
        from catalog import hooks
        from search import (
            indexing,
            synonyms,  # noqa: F401  (connects the rule-change signals)
        )
        from search.backends import search_is_current_at_commit
        from search.health import register_search_checks
        from search.scrape import search_figures
        from shop.core.metrics import register_database_metrics

        register_search_checks()
        hooks.on_products_changed(indexing.products_changed)
        hooks.set_product_search(_product_search)
        hooks.set_search_currency(search_is_current_at_commit)
        register_database_metrics(search_figures, before_jobs=True)
