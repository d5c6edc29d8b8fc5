"""GraphQL types of storefront search (docs/design.md §4) and of the operators' status."""

import graphene

from catalog.graphql.types import ProductType


class SearchFacetField(graphene.Enum):
    CATEGORY = "category"
    COUNTY = "county"
    GI = "gi"
    PRICE_BAND = "price_band"


class SearchFacetValue(graphene.ObjectType):
    value = graphene.String(
        required=True,
        description="What to filter on: a Category or County ID (for `filter.categories` / "
        "`filter.counties`), `true`/`false` (for `filter.hasGi`) or a price band key (for "
        "`priceBands`).",
    )
    label = graphene.String(required=True)
    count = graphene.Int(required=True, description="Hits with this value.")
    selected = graphene.Boolean(required=True, description="The request filters on it.")


class SearchFacet(graphene.ObjectType):
    field = graphene.Field(SearchFacetField, required=True)
    values = graphene.List(graphene.NonNull(SearchFacetValue), required=True)

    class Meta:
        description = (
            "Counts of the hits by one field. Disjunctive: each facet is counted with every "
            "filter except its own, so the other values stay pickable."
        )


class ProductSearchEdge(graphene.ObjectType):
    node = graphene.Field(ProductType, required=True)
    cursor = graphene.String(required=True)
    score = graphene.Float(description="Relevance; higher is better (null without a query).")


class ProductSearchConnection(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    page_info = graphene.Field(graphene.relay.PageInfo, required=True)
    edges = graphene.List(graphene.NonNull(ProductSearchEdge), required=True)
    facets = graphene.List(graphene.NonNull(SearchFacet), required=True)
    corrected_query = graphene.String(
        description="What was searched instead when the query as typed found nothing (a typo "
        "corrected): show it as “showing results for …”. Null when the query was searched as "
        "typed."
    )
    partial = graphene.Boolean(
        required=True,
        description="True when no product matches every word: the hits match some of them, "
        "those matching most first.",
    )


class SearchSuggestion(graphene.ObjectType):
    text = graphene.String(required=True, description="What to show: the product name.")
    product = graphene.Field(ProductType, required=True)


class SearchEngineStatus(graphene.ObjectType):
    url = graphene.String(required=True, description="Without credentials.")
    index = graphene.String(required=True, description="The alias searches read.")
    reachable = graphene.Boolean(required=True)
    distribution = graphene.String(description="elasticsearch or opensearch.")
    version = graphene.String()
    documents = graphene.Int()
    error = graphene.String()


class SearchCounterType(graphene.ObjectType):
    value = graphene.Int(required=True)
    last_at = graphene.DateTime()
    last_detail = graphene.String(required=True)

    class Meta:
        name = "SearchCounter"


class SearchStatus(graphene.ObjectType):
    backend = graphene.String(required=True, description="database or elasticsearch.")
    database_method = graphene.String(
        required=True, description="postgresql tsvector, sqlite fts5 or like."
    )
    entries = graphene.Int(required=True, description="Rows of the database search table.")
    engine = graphene.Field(SearchEngineStatus)
    outbox_pending = graphene.Int(required=True, description="Index updates not yet delivered.")
    outbox_failing = graphene.Int(required=True, description="... of which failed at least once.")
    fallbacks = graphene.Field(
        SearchCounterType,
        required=True,
        description="Searches the engine could not answer, answered from the database.",
    )
    index_failures = graphene.Field(
        SearchCounterType, required=True, description="Index updates the engine could not take."
    )
