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
        """`search_once`, then (when it finds nothing) the typo correction and relaxation of
        `search.recovery`, the same for every backend."""
        from search.recovery import search_with_recovery

        return search_with_recovery(self.search_once, request)

    def search_once(self, request: SearchRequest) -> SearchResults:
        """One query exactly as asked (every word, or `match_any`), no recovery."""
        raise NotImplementedError

    def count(self, request: SearchRequest) -> int:
        from dataclasses import replace

        return self.search(replace(request, limit=0, offset=0, facets=False)).total

    def suggest(self, prefix: str, *, limit: int = 10) -> list[Suggestion]:
        """Search-as-you-type: sellable products whose name, pinyin or initials start so
        (traditional characters, spaced and toned pinyin folded first); when none does, the
        best hits of the search for the prefix (synonyms, corrected typos), not partial ones."""
        from search.models import ProductSearchEntry
        from search.text import fold_pinyin, normalize

        text = fold_pinyin(normalize(prefix))
        if not text or limit <= 0:
            return []
        found = self.suggest_once(text, limit=limit)
        if found:
            return found
        results = self.search(SearchRequest(text=text, limit=limit, facets=False))
        if results.partial:
            return []
        names = dict(
            ProductSearchEntry.objects.filter(product_id__in=results.ids).values_list(
                "product_id", "name"
            )
        )
        return [Suggestion(pk, names[pk]) for pk in results.ids if pk in names]

    def suggest_once(self, prefix: str, *, limit: int = 10) -> list[Suggestion]:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        return {"backend": self.name}


class EngineUnavailable(Exception):
    """The search engine could not be reached or refused the request."""
