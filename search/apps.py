from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from search import synonyms  # noqa: F401  (connects the rule-change signals)
        from search.health import register_search_checks

        register_search_checks()
