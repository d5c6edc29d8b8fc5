import graphene

from catalog import hooks, selectors
from catalog.graphql.types import (
    CategoryType,
    CityType,
    CountyType,
    ProductConnection,
    ProductType,
    SupplierConnection,
    SupplierStatusEnum,
    SupplierType,
    TraceBatchType,
)
from shop.core.errors import BadUserInput
from shop.core.graphql.connection import PaginatedField
from shop.core.graphql.ids import decode_id


class ProductOrderField(graphene.Enum):
    NAME = "NAME"
    PRICE = "PRICE"
    CREATED = "CREATED"
    RELEVANCE = "RELEVANCE"


class OrderDirection(graphene.Enum):
    ASC = "ASC"
    DESC = "DESC"


class ProductOrder(graphene.InputObjectType):
    field = ProductOrderField(required=True)
    direction = OrderDirection(default_value="ASC")


class PriceRangeInput(graphene.InputObjectType):
    gte = graphene.Decimal()
    lte = graphene.Decimal()


class ProductFilterInput(graphene.InputObjectType):
    categories = graphene.List(graphene.NonNull(graphene.ID))
    counties = graphene.List(graphene.NonNull(graphene.ID), description="Origin counties.")
    price = PriceRangeInput(description="On the lowest variant price, in CNY.")
    has_gi = graphene.Boolean()
    is_poverty_county_product = graphene.Boolean(description="832-eligible products only.")
    in_stock = graphene.Boolean()
    suppliers = graphene.List(graphene.NonNull(graphene.ID))


def _ids(global_ids, type_name: str) -> list[int]:
    ids = [decode_id(gid, type_name) for gid in global_ids or []]
    if any(i is None for i in ids):
        raise BadUserInput(f"Every ID in the filter must be a {type_name} ID.")
    return ids


def product_filter_from(data) -> selectors.ProductFilter:
    data = data or {}
    price = data.get("price") or {}
    return selectors.ProductFilter(
        category_ids=_ids(data.get("categories"), "Category"),
        county_ids=_ids(data.get("counties"), "County"),
        supplier_ids=_ids(data.get("suppliers"), "Supplier"),
        price_min=price.get("gte"),
        price_max=price.get("lte"),
        has_gi=data.get("has_gi"),
        poverty_county=data.get("is_poverty_county_product"),
        in_stock=data.get("in_stock"),
    )


class SupplierFilterInput(graphene.InputObjectType):
    status = graphene.List(graphene.NonNull(SupplierStatusEnum))
    counties = graphene.List(graphene.NonNull(graphene.ID))
    search = graphene.String(description="Name contains, or exact credit code.")


class CatalogQueries(graphene.ObjectType):
    products = PaginatedField(
        ProductConnection,
        filter=ProductFilterInput(),
        sort_by=ProductOrder(),
        search=graphene.String(),
        description="The storefront: sellable products only.",
    )
    product = graphene.Field(
        ProductType, id=graphene.ID(), slug=graphene.String(), description="A sellable product."
    )
    managed_products = PaginatedField(
        ProductConnection,
        description="Products in every status: supplier staff their own, operators and "
        "auditors all.",
    )
    recommended_catalog = PaginatedField(
        ProductConnection, description="推荐目录: sellable certified products by category."
    )
    categories = graphene.List(graphene.NonNull(CategoryType), required=True)
    origins = graphene.List(
        graphene.NonNull(CountyType), required=True, description="Ningxia counties."
    )
    cities = graphene.List(
        graphene.NonNull(CityType), required=True, description="Fujian prefecture-level cities."
    )
    trace_batch = graphene.Field(TraceBatchType, code=graphene.String(required=True))
    suppliers = PaginatedField(SupplierConnection, filter=SupplierFilterInput())
    supplier = graphene.Field(SupplierType, id=graphene.ID(required=True))

    def resolve_products(root, info, filter=None, sort_by=None, search=None):
        if search and search.strip():
            # Text search runs on the configured search backend (search/ registers it in
            # catalog/hooks.py), best match first unless another order is asked for.
            return hooks.product_search(search, filter=filter, sort_by=sort_by)
        sort_by = sort_by or {}
        field = sort_by.get("field", "NAME")
        descending = sort_by.get("direction") == "DESC"
        return selectors.storefront_products(
            filters=product_filter_from(filter),
            sort=field.value if hasattr(field, "value") else field,
            descending=descending,
        )

    def resolve_product(root, info, id=None, slug=None):
        if id is None and not slug:
            raise BadUserInput("Give `id` or `slug`.")
        product_id = decode_id(id, "Product") if id is not None else None
        if id is not None and product_id is None:
            return None
        return selectors.storefront_product(product_id=product_id, slug=slug)

    def resolve_managed_products(root, info):
        return selectors.managed_products(acting_user=info.context.user)

    def resolve_recommended_catalog(root, info):
        return selectors.recommended_catalog()

    def resolve_categories(root, info):
        return selectors.categories()

    def resolve_origins(root, info):
        return selectors.origins()

    def resolve_cities(root, info):
        return selectors.cities()

    def resolve_trace_batch(root, info, code):
        return selectors.trace_batch_by_code(code)

    def resolve_suppliers(root, info, filter=None):
        filter = filter or {}
        return selectors.suppliers_visible_to(
            acting_user=info.context.user,
            filters=selectors.SupplierFilter(
                statuses=[
                    s.value if hasattr(s, "value") else s for s in filter.get("status") or []
                ],
                county_ids=_ids(filter.get("counties"), "County"),
                search=filter.get("search"),
            ),
        )

    def resolve_supplier(root, info, id):
        return (
            selectors.suppliers_visible_to(acting_user=info.context.user)
            .filter(pk=decode_id(id, "Supplier"))
            .first()
        )
