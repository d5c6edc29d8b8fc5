"""Search settings, read at call time so tests can override them.

- `SEARCH_BACKEND`: `"database"` (the embedded default), `"elasticsearch"` (Elasticsearch or
  OpenSearch through `elasticsearch.dsl`), or the dotted path of a backend class. Defaults to
  `"elasticsearch"` when `ELASTICSEARCH_URL` is set, else `"database"`.
- `ELASTICSEARCH_URL`: the engine (comma-separated for several nodes).
- `SEARCH_ENGINE_IS_OPENSEARCH`: True/False, or None to ask the server once (`GET /`).
- `SEARCH_INDEX`: the alias readers and writers use (versioned indices sit behind it).
- `SEARCH_ENGINE_TIMEOUT`: seconds per engine request before falling back to the database.
- `SEARCH_ENGINE_RETRY_SECONDS`: after a failure, how long searches skip the engine.
- `SEARCH_ENGINE_REFRESH`: refresh after every write (tests); off in production.
- `SEARCH_OUTBOX_MAX_BACKOFF_SECONDS`: ceiling of the retry back-off of failed index updates.
"""

from django.conf import settings

BACKEND_ALIASES = {
    "database": "search.backends.database.DatabaseSearchBackend",
    "db": "search.backends.database.DatabaseSearchBackend",
    "elasticsearch": "search.backends.elasticsearch.ElasticsearchSearchBackend",
    "opensearch": "search.backends.elasticsearch.ElasticsearchSearchBackend",
}

SETTING_NAMES = frozenset(
    {
        "SEARCH_BACKEND",
        "ELASTICSEARCH_URL",
        "SEARCH_ENGINE_IS_OPENSEARCH",
        "SEARCH_INDEX",
        "SEARCH_ENGINE_TIMEOUT",
        "SEARCH_ENGINE_RETRY_SECONDS",
        "SEARCH_ENGINE_REFRESH",
        "SEARCH_OUTBOX_MAX_BACKOFF_SECONDS",
    }
)


def backend_path() -> str:
    name = getattr(settings, "SEARCH_BACKEND", "") or (
        "elasticsearch" if engine_url() else "database"
    )
    return BACKEND_ALIASES.get(name.lower(), name)


def engine_url() -> str:
    return getattr(settings, "ELASTICSEARCH_URL", "") or ""


def engine_is_opensearch() -> bool | None:
    value = getattr(settings, "SEARCH_ENGINE_IS_OPENSEARCH", None)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def index_alias() -> str:
    return getattr(settings, "SEARCH_INDEX", "shanhai-products")


def engine_timeout() -> float:
    return float(getattr(settings, "SEARCH_ENGINE_TIMEOUT", 5))


def engine_retry_seconds() -> float:
    return float(getattr(settings, "SEARCH_ENGINE_RETRY_SECONDS", 10))


def engine_refresh() -> bool:
    return bool(getattr(settings, "SEARCH_ENGINE_REFRESH", False))


def outbox_max_backoff() -> int:
    return int(getattr(settings, "SEARCH_OUTBOX_MAX_BACKOFF_SECONDS", 300))
