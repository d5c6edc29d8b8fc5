"""The execution context's short path for plain reads (shop/core/graphql/execution.py) answers
exactly what graphql-core's own execution answers, errors included, and it is what a listing
page's plain fields actually take."""

from decimal import Decimal

import graphene
import pytest
from graphql import ExecutionContext, execute, parse

from catalog.models import ProductImage
from shop.core.graphql import execution, view
from shop.core.graphql.execution import SynchronousExecutionContext, plain_read
from tests.catalog.test_storefront import LISTING
from tests.factories import GIFactory, ProductFactory, TierPriceFactory, VariantFactory


class Colour(graphene.Enum):
    RED = "red"
    BLUE = "blue"


class Thing:
    """An object source, as a Django model instance is to a graphene-django type."""

    def __init__(self, **values):
        self.__dict__.update(values)

    @property
    def broken(self):
        raise ValueError("the property failed")


class Item(graphene.ObjectType):
    name = graphene.String(required=True)
    nickname = graphene.String()
    count = graphene.Int(required=True)
    ratio = graphene.Float()
    price = graphene.Decimal(required=True)
    colour = graphene.Field(Colour)
    broken = graphene.String()
    shouted = graphene.String()
    echo = graphene.String(text=graphene.String())

    def resolve_shouted(self, info):
        return self.name.upper() if isinstance(self, Thing) else self["name"].upper()

    def resolve_echo(self, info, text=None):
        return text


class Holder(graphene.ObjectType):
    item = graphene.Field(Item)
    items = graphene.List(graphene.NonNull(Item))


class Query(graphene.ObjectType):
    holder = graphene.Field(Holder)

    def resolve_holder(self, info):
        return info.context


SCHEMA = graphene.Schema(query=Query).graphql_schema
FIELDS = "name nickname count ratio price colour shouted echo(text: $text)"


def run(context_class, source: dict, selection: str = FIELDS, variables=None) -> tuple:
    document = parse(
        f"query($text: String) {{ holder {{ item {{ {selection} }} items {{ {selection} }} }} }}"
    )
    result = execute(
        SCHEMA,
        document,
        context_value=source,
        variable_values=variables or {},
        execution_context_class=context_class,
    )
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
        for e in (result.errors or [])
    ]
    return result.data, errors


GOOD = {
    "name": "枸杞",
    "nickname": None,
    "count": 3,
    "ratio": 0.5,
    "price": Decimal("12.50"),
    "colour": "red",
}


@pytest.mark.smoke
@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "object"])
@pytest.mark.parametrize(
    ("changes", "selection"),
    [
        ({}, FIELDS),
        ({"name": None}, FIELDS),  # null for a non-null field: the standard error
        ({"count": 2**40}, FIELDS),  # out of Int's range: serialize raises
        ({"count": "three"}, FIELDS),  # not an Int at all
        ({"ratio": "abc"}, FIELDS),  # a nullable field whose value cannot serialise
        ({"colour": "green"}, FIELDS),  # not a value of the enum
        ({"nickname": ValueError("a returned exception")}, FIELDS),
        ({}, "name broken"),  # the attribute read itself raises (object sources only)
        ({"price": None}, "price count"),
    ],
)
def test_plain_reads_answer_as_graphql_core_does(as_object, changes, selection):
    values = {**GOOD, **changes}
    item = Thing(**values) if as_object else values
    second = Thing(**GOOD) if as_object else dict(GOOD)
    source = {"item": item, "items": [second, item, second]}
    ours = run(SynchronousExecutionContext, source, selection, {"text": "回声"})
    reference = run(ExecutionContext, source, selection, {"text": "回声"})
    assert ours == reference
    if changes:
        assert ours[1], "each bad value is reported as graphql-core reports it"


def test_only_argument_free_default_resolved_leaf_fields_are_plain_reads():
    item = SCHEMA.type_map["Item"].fields
    assert plain_read(item["name"])[:2] == ("name", None)
    assert plain_read(item["colour"]) is not None
    assert plain_read(item["shouted"]) is None  # a resolve_<field>: its rules always run
    assert plain_read(item["echo"]) is None  # takes arguments
    assert plain_read(SCHEMA.type_map["Holder"].fields["item"]) is None  # not a leaf


def _storefront(count: int) -> None:
    for n in range(count):
        variant = VariantFactory(product=ProductFactory(name=f"产品{n:02d}"), stock=n)
        TierPriceFactory(variant=variant, min_quantity=20, unit_price=Decimal("9.90"))
        VariantFactory(product=variant.product, minimum_order_quantity=n + 1)
        if n % 2:
            GIFactory(product=variant.product)
        for k in range(2):
            ProductImage.objects.create(
                product=variant.product,
                image=f"products/2026/12/p{n}-{k}.jpg",
                format="JPEG",
                width=800,
                height=600,
                sha256=f"{n:032d}{k:032d}",
                thumbnails={
                    str(size): f"products/thumbnails/p{n}-{k}-{size}.webp" for size in (120, 400)
                },
                alt=f"产品{n:02d}",
                sort_order=k,
            )


def test_the_listing_answers_byte_for_byte_as_with_graphql_cores_execution(
    gql, monkeypatch, settings
):
    settings.GRAPHQL_RESPONSE_CACHE = False
    _storefront(6)
    ours = gql.raw(LISTING, {"first": 6}).content
    monkeypatch.setattr(view, "SynchronousExecutionContext", ExecutionContext)
    reference = gql.raw(LISTING, {"first": 6}).content
    assert b'"errors"' not in ours
    assert ours == reference


def test_a_listing_pages_plain_fields_take_the_short_path(gql, monkeypatch, settings):
    """The guard: if a middleware, a resolver or a wrapper puts the plain fields back on
    graphql-core's per-field path (~25 us each, ~60 % of a page's fields), this fails."""
    settings.GRAPHQL_RESPONSE_CACHE = False
    _storefront(4)
    standard: list[tuple[str, str]] = []
    execute_field = SynchronousExecutionContext.execute_field

    def counted(self, parent_type, source, field_nodes, path):
        standard.append((parent_type.name, field_nodes[0].name.value))
        return execute_field(self, parent_type, source, field_nodes, path)

    monkeypatch.setattr(execution.SynchronousExecutionContext, "execute_field", counted)
    response = gql(LISTING, {"first": 4})
    assert "errors" not in response
    for plain in [
        ("Product", "name"),
        ("Product", "slug"),
        ("Money", "amount"),
        ("Money", "currency"),
        ("ProductVariant", "sku"),
        ("TierPrice", "minQuantity"),
        ("Thumbnail", "url"),
        ("County", "name"),
    ]:
        assert plain not in standard
    # what is left per product: resolvers with rules or bookkeeping, and object fields
    per_product = (len(standard) - 3) / 4
    assert per_product <= 40, sorted(set(standard))
