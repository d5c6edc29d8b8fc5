"""The Elasticsearch / OpenSearch backend, built on `search.documents` (`elasticsearch.dsl`).

- Documents are made from `ProductSearchEntry` rows, so the engine indexes exactly the tokens
  the database backend does (no jieba run twice). Every product is indexed with its `sellable`
  flag; searches filter on it.
- Writes go to the alias `SEARCH_INDEX`; `reindex()` fills a new versioned index, catches up
  with updates made meanwhile and swaps the alias atomically (zero downtime).
- Reads that the engine cannot answer (unreachable, timing out, refusing) are answered by the
  database backend: logged as a warning and counted (`search.metrics.FALLBACKS`). After a
  failure, searches skip the engine for `SEARCH_ENGINE_RETRY_SECONDS`.
- Index updates that fail raise `EngineUnavailable`; the outbox keeps them and retries
  (`search.indexing.drain`).
- OpenSearch 2.x is spoken to through `search.opensearch.OpenSearchCompatNode`, chosen by
  `SEARCH_ENGINE_IS_OPENSEARCH` or, when that is None, by asking the server once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import urllib3
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers
from elasticsearch.dsl import Q, Search

from search import conf, metrics
from search.backends.base import EngineUnavailable, Progress, SearchBackend
from search.backends.database import DatabaseSearchBackend
from search.documents import (
    ProductDocument,
    build_search,
    create_index,
    point_alias,
)
from search.entries import sync_entries
from search.models import ProductSearchEntry
from search.opensearch import detect_opensearch, make_client
from search.query import (
    FACETS,
    FacetValue,
    Hit,
    SearchRequest,
    SearchResults,
    Suggestion,
    order_facet_values,
)
from search.text import normalize

logger = logging.getLogger("search")

ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    TransportError,  # connection refused, timeouts, TLS ...
    ApiError,  # the engine answered with an error status
    helpers.BulkIndexError,
    urllib3.exceptions.HTTPError,
    OSError,
    EngineUnavailable,
)
BULK_CHUNK = 1000


def redact(url: str) -> str:
    """The URL without user name and password (for logs and status)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def document_from_entry(entry: ProductSearchEntry) -> ProductDocument:
    return ProductDocument(
        meta={"id": str(entry.product_id)},
        product_id=str(entry.product_id),
        supplier_id=str(entry.supplier_id),
        name=entry.name,
        name_terms=entry.name_terms,
        body_terms=entry.body_terms,
        pinyin=entry.pinyin,
        initials=entry.initials,
        autocomplete=entry.autocomplete,
        category=str(entry.category_id),
        county=str(entry.county_id),
        gi=entry.gi,
        price_band=entry.price_band or None,
        min_price=float(entry.min_price) if entry.min_price is not None else None,
        in_stock=entry.in_stock,
        sellable=entry.sellable,
        poverty=entry.poverty,
        created_at=entry.created_at,
        updated_at=entry.indexed_at,
    )


class ElasticsearchSearchBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(
        self,
        *,
        url: str | None = None,
        opensearch: bool | None = None,
        alias: str | None = None,
        timeout: float | None = None,
        retry_seconds: float | None = None,
        refresh: bool | None = None,
    ):
        super().__init__()
        self.url = url or conf.engine_url()
        if not self.url:
            raise ImproperlyConfigured(
                "SEARCH_BACKEND is elasticsearch but ELASTICSEARCH_URL is empty"
            )
        self.opensearch = opensearch if opensearch is not None else conf.engine_is_opensearch()
        self.alias = alias or conf.index_alias()
        self.timeout = timeout if timeout is not None else conf.engine_timeout()
        self.retry_seconds = (
            retry_seconds if retry_seconds is not None else conf.engine_retry_seconds()
        )
        self.refresh = refresh if refresh is not None else conf.engine_refresh()
        self.database = DatabaseSearchBackend()
        self._client: Elasticsearch | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._alias_ready = False

    # --- connection ---------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.url.split(",") if u.strip()]

    def client(self) -> Elasticsearch:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    opensearch = self.opensearch
                    if opensearch is None:
                        opensearch = detect_opensearch(self.urls[0], timeout=self.timeout)
                    self._client = make_client(
                        self.urls,
                        opensearch=opensearch,
                        request_timeout=self.timeout,
                        max_retries=1,
                        retry_on_timeout=False,
                    )
                    self.opensearch = opensearch
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _engine_failed(self, error: BaseException, what: str) -> str:
        self._down_until = time.monotonic() + self.retry_seconds
        self._alias_ready = False
        return f"{what}: {type(error).__name__}: {str(error)[:300]}"

    @property
    def engine_marked_down(self) -> bool:
        return time.monotonic() < self._down_until

    def ensure_alias(self) -> None:
        """Create a first index behind the alias if there is none, so writes never create a
        concrete index with a guessed mapping under the alias name."""
        if self._alias_ready:
            return
        client = self.client()
        if not client.indices.exists_alias(name=self.alias):
            if client.indices.exists(index=self.alias):
                raise EngineUnavailable(
                    f"{self.alias!r} is an index, not an alias: run `manage.py search_reindex`"
                )
            point_alias(client, self.alias, create_index(client, self.alias))
        self._alias_ready = True

    # --- writes -------------------------------------------------------------------------------

    def _actions(self, entries: Iterable[ProductSearchEntry], index: str) -> Iterator[dict]:
        # Versioned by when the entry was written: entries are sent after their transaction
        # commits, so two drains of one product may reach the engine in either order; the
        # engine keeps the newer and refuses the older (409, ignored).
        for entry in entries:
            yield {
                **document_from_entry(entry).to_dict(include_meta=True),
                "_index": index,
                "_version": int(entry.indexed_at.timestamp() * 1_000_000),
                "_version_type": "external_gte",
            }

    def send(self, entries: list[ProductSearchEntry], deleted_ids: Iterable[int] = ()) -> None:
        """Write these entries (and delete these ids) to the engine. Raises EngineUnavailable."""
        deletes = [
            {"_op_type": "delete", "_index": self.alias, "_id": str(pk)} for pk in deleted_ids
        ]
        if not entries and not deletes:
            return
        if self.engine_marked_down:  # do not hold the caller up: the outbox retries later
            raise EngineUnavailable("index update skipped: engine marked down after a failure")
        try:
            self.ensure_alias()
            helpers.bulk(
                self.client(),
                [*self._actions(entries, self.alias), *deletes],
                refresh=self.refresh,
                ignore_status=(404, 409),
                chunk_size=BULK_CHUNK,
            )
        except ENGINE_ERRORS as error:
            raise EngineUnavailable(self._engine_failed(error, "index update failed")) from error

    def index(self, product_ids: Iterable[int]) -> None:
        entries, missing = sync_entries(product_ids)
        self.send(entries, missing)

    def send_entries(
        self, entries: list[ProductSearchEntry], deleted_ids: Iterable[int] = ()
    ) -> None:
        self.send(entries, deleted_ids)

    def bulk_index(self, product_ids: Iterable[int], *, progress: Progress | None = None) -> int:
        ids = sorted(set(product_ids))
        done = 0
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            entries, missing = sync_entries(chunk)
            self.send(entries, missing)
            done += len(entries)
            if progress:
                progress(len(chunk))
        return done

    def delete(self, product_ids: Iterable[int]) -> None:
        ids = list(product_ids)
        ProductSearchEntry.objects.filter(product_id__in=ids).delete()
        self.send([], ids)

    def rebuild(self, *, progress: Progress | None = None) -> int:
        self.database.rebuild(progress=progress)
        return self.reindex()

    def reindex(self, *, progress: Progress | None = None, delete_old: bool = True) -> int:
        """Fill a new index from the entries and swap the alias to it (zero downtime).

        Entries rewritten while the index fills (the outbox keeps draining into the old index)
        are sent again before and after the swap, so nothing is lost in between."""
        client = self.client()
        started = timezone.now()
        index = create_index(client, self.alias)
        client.indices.put_settings(index=index, settings={"index": {"refresh_interval": "-1"}})
        sent = 0
        entries = (
            ProductSearchEntry.objects.order_by("pk")
            .defer("document", "text_hash")
            .iterator(chunk_size=BULK_CHUNK)
        )
        for ok, item in helpers.streaming_bulk(
            client, self._actions(entries, index), chunk_size=BULK_CHUNK, max_retries=2
        ):
            if not ok:
                raise EngineUnavailable(f"reindex refused a document: {item}")
            sent += 1
            if progress and sent % BULK_CHUNK == 0:
                progress(BULK_CHUNK)
        if progress and sent % BULK_CHUNK:
            progress(sent % BULK_CHUNK)
        client.indices.put_settings(index=index, settings={"index": {"refresh_interval": None}})
        caught_up = timezone.now()
        self._catch_up(index, since=started)
        client.indices.refresh(index=index)
        point_alias(client, self.alias, index, delete_old=delete_old)
        self._alias_ready = True
        self._catch_up(index, since=caught_up)
        return sent

    def _catch_up(self, index: str, *, since) -> None:
        changed = (
            ProductSearchEntry.objects.filter(indexed_at__gte=since)
            .order_by("pk")
            .defer("document", "text_hash")
        )
        helpers.bulk(
            self.client(),
            self._actions(changed.iterator(), index),
            refresh=self.refresh,
            ignore_status=(409,),  # a newer version is already there
        )

    # --- reads --------------------------------------------------------------------------------

    def _fallback(self, request_kind: str, reason: str):
        logger.warning(
            "search engine %s unavailable for %s (%s); answering from the database",
            redact(self.urls[0]),
            request_kind,
            reason,
        )
        metrics.increment(metrics.FALLBACKS, f"{request_kind}: {reason}")

    def search_once(self, request: SearchRequest) -> SearchResults:
        if self.engine_marked_down:
            self._fallback("search", "marked down after a recent failure")
        else:
            try:
                return self._search(request)
            except ENGINE_ERRORS as error:
                self._fallback("search", self._engine_failed(error, "search failed"))
        results = self.database.search_once(request)
        results.fallback = True
        return results

    def count(self, request: SearchRequest) -> int:
        return self.search(replace(request, limit=0, offset=0, facets=False)).total

    @staticmethod
    def engine_filters(request: SearchRequest) -> dict[str, Any]:
        f = request.filters
        filters: dict[str, Any] = {"sellable": True}
        if f.categories:
            filters["category"] = [str(pk) for pk in f.categories]
        if f.counties:
            filters["county"] = [str(pk) for pk in f.counties]
        if f.gi is not None:
            filters["gi"] = f.gi
        if f.price_bands:
            filters["price_band"] = list(f.price_bands)
        if f.suppliers:
            filters["supplier_id"] = [str(pk) for pk in f.suppliers]
        if f.price_min is not None:
            filters["min_price"] = f.price_min
        if f.price_max is not None:
            filters["max_price"] = f.price_max
        if f.poverty is not None:
            filters["poverty"] = f.poverty
        if f.in_stock is not None:
            filters["in_stock"] = f.in_stock
        return filters

    def build(self, request: SearchRequest) -> Search:
        search = build_search(
            self.alias,
            request.text,
            self.engine_filters(request),
            facets=request.facets,
            size=max(request.limit, 0),
            offset=max(request.offset, 0),
            client=self.client(),
            match_any=request.match_any,
        )
        # only ids and scores are read (the storefront loads the products): no stored source
        # to fetch and parse per hit
        search = search.source(False)
        if request.sort != "relevance":
            field = {"name": "name.raw", "price": "min_price", "created": "created_at"}[
                request.sort
            ]
            order = "desc" if request.descending else "asc"
            search = search.sort(
                {field: {"order": order, "missing": "_last"}},
                {"product_id": {"order": order}},
            )
        return search

    def _search(self, request: SearchRequest) -> SearchResults:
        body = self.build(request).execute().to_dict()
        hits = [Hit(int(hit["_id"]), hit.get("_score")) for hit in body["hits"]["hits"]]
        facets = {}
        if request.facets:
            aggregations = body.get("aggregations", {})
            for name in FACETS:
                buckets = aggregations[name]["values"]["buckets"]
                values = [
                    FacetValue(
                        ("true" if b["key"] else "false") if name == "gi" else str(b["key"]),
                        b["doc_count"],
                    )
                    for b in buckets
                ]
                facets[name] = order_facet_values(name, values)
        return SearchResults(
            total=body["hits"]["total"]["value"], hits=hits, facets=facets, backend=self.name
        )

    def suggest_once(self, prefix: str, *, limit: int = 10) -> list[Suggestion]:
        text = normalize(prefix)
        if not text or limit <= 0:
            return []
        if not self.engine_marked_down:
            try:
                return self._suggest(text, limit)
            except ENGINE_ERRORS as error:
                self._fallback("suggestions", self._engine_failed(error, "suggest failed"))
        else:
            self._fallback("suggestions", "marked down after a recent failure")
        return self.database.suggest_once(prefix, limit=limit)

    def _suggest(self, text: str, limit: int) -> list[Suggestion]:
        search = (
            Search(using=self.client(), index=self.alias)
            .query(
                Q(
                    "bool",
                    must=[
                        Q(
                            "multi_match",
                            query=text,
                            fields=["autocomplete^2", "pinyin", "initials"],
                            operator="and",
                            type="best_fields",
                        )
                    ],
                    filter=[Q("term", sellable=True)],
                )
            )
            .sort("_score", {"name.raw": {"order": "asc"}}, "product_id")
            .source(["name"])
            .extra(size=limit)
        )
        return [
            Suggestion(int(hit.meta.id), hit.to_dict().get("name", ""))
            for hit in search.execute().hits
        ]

    # --- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "backend": self.name,
            "url": redact(self.urls[0]),
            "index": self.alias,
            "reachable": False,
        }
        try:
            client = self.client()
            info = client.info()
            status.update(
                reachable=True,
                distribution=info["version"].get("distribution", "elasticsearch"),
                version=info["version"]["number"],
            )
            try:
                status["indices"] = sorted(client.indices.get_alias(name=self.alias).body)
                status["documents"] = client.count(index=self.alias)["count"]
            except NotFoundError:
                status["indices"], status["documents"] = [], 0
        except ENGINE_ERRORS as error:
            status["error"] = f"{type(error).__name__}: {str(error)[:300]}"
        return status
