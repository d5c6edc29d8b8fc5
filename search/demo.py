"""Demo data step (see `demo_data`): index the demo catalog for search."""

from search.backends import get_search_backend
from search.backends.database import DatabaseSearchBackend
from search.backends.elasticsearch import ENGINE_ERRORS


def load(progress) -> str:
    backend = get_search_backend()
    try:
        indexed = backend.rebuild()
    except ENGINE_ERRORS as error:  # the database index is enough to serve the demo
        indexed = DatabaseSearchBackend().rebuild()
        return f"search index: {indexed} products (database; the engine failed: {error})"
    return f"search index: {indexed} products ({backend.name})"
