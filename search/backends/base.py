"""The search backend interface (in the manner of Wagtail's `BaseSearchBackend`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from search.query import SearchRequest, SearchResults, Suggestion

Progress = Callable[[int], None]  # called with how many products were just handled


class SearchBackend:
    """One way of indexing and searching products.

    Writes take product ids and read the catalog themselves; the index entry of a product holds
    whether it is sellable, and searches return sellable products only.
    """

    name = "base"

    def __init__(self, **options: Any):
        self.options = options

    # --- writes ---------------------------------------------------------------------------

    def index(self, product_ids: Iterable[int]) -> None:
        """Bring the index entries of these products up to date (create, update or delete).
        Raises `EngineUnavailable` when an engine cannot take the update (it is retried)."""
        raise NotImplementedError

    def send_entries(self, entries: list[Any], deleted_ids: Iterable[int] = ()) -> None:
        """Hand index entries just written (and ids deleted) to the search engine. Called with no
        database transaction open (it is a network call); the database backend has nothing to
        send. Raises `EngineUnavailable` when the engine cannot take them."""

    def bulk_index(self, product_ids: Iterable[int], *, progress: Progress | None = None) -> int:
        """Like `index`, for many products (batched); returns how many were indexed."""
        raise NotImplementedError

    def delete(self, product_ids: Iterable[int]) -> None:
        raise NotImplementedError

    def rebuild(self, *, progress: Progress | None = None) -> int:
        """Index every product again (for an engine: into a new index, then swap the alias)."""
        raise NotImplementedError

    # --- reads ----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResults:
        raise NotImplementedError

    def count(self, request: SearchRequest) -> int:
        from dataclasses import replace

        return self.search(replace(request, limit=0, offset=0, facets=False)).total

    def suggest(self, prefix: str, *, limit: int = 10) -> list[Suggestion]:
        """Search-as-you-type: sellable products whose name, pinyin or initials start so."""
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        return {"backend": self.name}


class EngineUnavailable(Exception):
    """The search engine could not be reached or refused the request."""
