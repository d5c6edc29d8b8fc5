"""Storefront search: `search`, `searchSuggestions`; and `searchStatus` for operators."""

import graphene
from django.conf import settings
from graphql_relay import to_global_id

from catalog.graphql.queries import ProductFilterInput, ProductOrder, product_filter_from
from catalog.models import Category, County
from search import access, indexing, metrics
from search.backends import get_search_backend
from search.backends.database import DatabaseSearchBackend
from search.graphql.types import (
    ProductSearchConnection,
    ProductSearchEdge,
    SearchCounterType,
    SearchEngineStatus,
    SearchFacet,
    SearchFacetValue,
    SearchStatus,
    SearchSuggestion,
)
from search.price_bands import PRICE_BANDS
from search.query import FACETS, PRICE_BAND_KEYS, SearchFilters, SearchRequest
from search.storefront import ORDER_FIELDS, SearchResultList, load_products, order_label
from shop.core import validation
from shop.core.errors import BadUserInput
from shop.core.graphql.connection import checked_page_size, offset_after, offset_cursor
from shop.core.graphql.dataloaders import prime_siblings


def _price_band_label(key: str) -> str:
    for band, low, high in PRICE_BANDS:
        if band == key:
            if low is None:
                return f"{high}元以下"
            if high is None:
                return f"{low}元以上"
            return f"{low}–{high}元"
    return key


GI_LABELS = {"true": "地理标志产品", "false": "非地理标志产品"}


def checked_query(text: str) -> str:
    return validation.search_text(text, field="query")


def checked_page(info, first, after, order: str) -> tuple[int, int]:
    """(offset, limit) from Relay `first`/`after`, checked like every other connection."""
    limit = checked_page_size({"first": first}, "first")
    if limit is None:
        limit = settings.GRAPHQL_MAX_PAGE_SIZE
    return offset_after(info, order, after), limit


def order_from(sort_by, *, default: str) -> tuple[str, bool]:
    """(backend sort, descending) from a `ProductOrder` input."""
    sort_by = sort_by or {}
    field = getattr(sort_by.get("field"), "value", sort_by.get("field")) or default
    direction = getattr(sort_by.get("direction"), "value", sort_by.get("direction"))
    return ORDER_FIELDS.get(field, "relevance"), direction == "DESC"


def search_filters(filter, price_bands) -> SearchFilters:
    unknown = sorted(set(price_bands or ()) - set(PRICE_BAND_KEYS))
    if unknown:
        raise BadUserInput(f"Unknown price bands {unknown}; expected {list(PRICE_BAND_KEYS)}.")
    return SearchFilters.from_product_filter(
        product_filter_from(filter), price_bands=tuple(price_bands or ())
    )


def search_product_list(text, *, filter=None, sort_by=None) -> SearchResultList:
    """`products(search: ...)`: the storefront listing on the search backend (relevance first
    unless `sortBy` says otherwise), paginated by the shared connection code."""
    sort, descending = order_from(sort_by, default="RELEVANCE")
    return SearchResultList(
        SearchRequest(
            text=checked_query(text),
            filters=search_filters(filter, ()),
            sort=sort,
            descending=descending,
            facets=False,
        )
    )


def _facets(results, filters: SearchFilters) -> list[SearchFacet]:
    category_ids = [int(v.value) for v in results.facets.get("category", [])]
    county_ids = [int(v.value) for v in results.facets.get("county", [])]
    categories = Category.objects.in_bulk(category_ids) if category_ids else {}
    counties = County.objects.in_bulk(county_ids) if county_ids else {}
    selected = {
        "category": {str(pk) for pk in filters.categories},
        "county": {str(pk) for pk in filters.counties},
        "gi": set() if filters.gi is None else {"true" if filters.gi else "false"},
        "price_band": set(filters.price_bands),
    }
    facets = []
    for name in FACETS:
        values = []
        for facet_value in results.facets.get(name, []):
            raw = facet_value.value
            if name == "category":
                category = categories.get(int(raw))
                value, label = to_global_id("Category", raw), category.name if category else raw
            elif name == "county":
                county = counties.get(int(raw))
                value, label = to_global_id("County", raw), county.name if county else raw
            elif name == "gi":
                value, label = raw, GI_LABELS[raw]
            else:
                value, label = raw, _price_band_label(raw)
            values.append(
                SearchFacetValue(
                    value=value,
                    label=label,
                    count=facet_value.count,
                    selected=raw in selected[name],
                )
            )
        facets.append(SearchFacet(field=name, values=values))
    return facets


class SearchQueries(graphene.ObjectType):
    search = graphene.Field(
        ProductSearchConnection,
        required=True,
        query=graphene.String(required=True, description="Chinese, pinyin or initials."),
        filter=ProductFilterInput(),
        price_bands=graphene.List(
            graphene.NonNull(graphene.String),
            description="Price band keys from the PRICE_BAND facet: " + ", ".join(PRICE_BAND_KEYS),
        ),
        sort_by=ProductOrder(description="Default: relevance."),
        first=graphene.Int(),
        after=graphene.String(),
        description="Storefront search over sellable products, best match first, with facets.",
    )
    search_suggestions = graphene.List(
        graphene.NonNull(SearchSuggestion),
        required=True,
        query=graphene.String(required=True),
        first=graphene.Int(default_value=10),
        description="Search-as-you-type: products whose name, pinyin or initials start so.",
    )
    search_status = graphene.Field(
        SearchStatus,
        required=True,
        description="The search backend's health (operators and auditors).",
    )

    def resolve_search(
        root, info, query, filter=None, price_bands=None, sort_by=None, first=None, after=None
    ):
        sort, descending = order_from(sort_by, default="RELEVANCE")
        order = order_label(sort, descending)
        offset, limit = checked_page(info, first, after, order)
        filters = search_filters(filter, price_bands)
        results = get_search_backend().search(
            SearchRequest(
                text=checked_query(query),
                filters=filters,
                offset=offset,
                limit=limit,
                sort=sort,
                descending=descending,
            )
        )
        products = {p.pk: p for p in load_products(results.ids)}
        edges = [
            ProductSearchEdge(
                node=products[hit.product_id],
                cursor=offset_cursor(info, order, offset + position),
                score=hit.score,
            )
            for position, hit in enumerate(results.hits)
            if hit.product_id in products
        ]
        prime_siblings(info.context, "Product", [edge.node for edge in edges])
        return ProductSearchConnection(
            total_count=results.total,
            page_info=graphene.relay.PageInfo(
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=offset > 0,
                has_next_page=offset + len(results.hits) < results.total,
            ),
            edges=edges,
            facets=_facets(results, filters),
            corrected_query=results.corrected_query,
            partial=results.partial,
        )

    def resolve_search_suggestions(root, info, query, first=10):
        if first is None or first < 0 or first > settings.GRAPHQL_MAX_PAGE_SIZE:
            raise BadUserInput(
                f"`first` must be between 0 and {settings.GRAPHQL_MAX_PAGE_SIZE}; got {first}."
            )
        suggestions = get_search_backend().suggest(checked_query(query), limit=first)
        products = {p.pk: p for p in load_products([s.product_id for s in suggestions])}
        found = [
            SearchSuggestion(text=s.name, product=products[s.product_id])
            for s in suggestions
            if s.product_id in products
        ]
        prime_siblings(info.context, "Product", [s.product for s in found])
        return found

    def resolve_search_status(root, info):
        access.require_status_reader(info.context.user)
        backend = get_search_backend()
        database = getattr(backend, "database", None) or backend
        if not isinstance(database, DatabaseSearchBackend):
            database = DatabaseSearchBackend()
        database_status = database.status()
        counters = metrics.snapshot()
        engine = None
        if backend.name != "database":
            status = backend.status()
            engine = SearchEngineStatus(
                url=status.get("url", ""),
                index=status.get("index", ""),
                reachable=status.get("reachable", False),
                distribution=status.get("distribution"),
                version=status.get("version"),
                documents=status.get("documents"),
                error=status.get("error"),
            )
        outbox = indexing.pending()

        def counter(name):
            data = counters[name]
            return SearchCounterType(
                value=data["value"], last_at=data["updated_at"], last_detail=data["detail"]
            )

        return SearchStatus(
            backend=backend.name,
            database_method=database_status["method"],
            entries=database_status["entries"],
            engine=engine,
            outbox_pending=outbox["pending"],
            outbox_failing=outbox["failing"],
            fallbacks=counter(metrics.FALLBACKS),
            index_failures=counter(metrics.INDEX_FAILURES),
        )
