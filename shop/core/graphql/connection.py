"""Relay pagination over querysets by keyset, with a page-size limit and dataloader priming.

A page is one SELECT whatever its depth: the cursor holds the sort keys of a row (and its id,
which every order ends with unless a unique column ends it first, so rows with equal keys still
have one place), and the next page is
the rows after it in that order, not an OFFSET that the database would have to walk. A nullable
key (a product without variants has no price) sorts its NULLs last in both directions, on every
database. `totalCount` is a separate COUNT run only when the field is selected.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_
from typing import Any

import graphene
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from graphql import GraphQLResolveInfo

from shop.core.errors import BadUserInput
from shop.core.graphql.dataloaders import prime_siblings
from shop.core.graphql.ids import (
    CursorValue,
    decode_cursor,
    decode_offset_cursor,
    encode_cursor,
)

PAGINATION_ARGS = ("first", "last", "after", "before")


def checked_page_size(args: dict[str, Any], name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    limit = settings.GRAPHQL_MAX_PAGE_SIZE
    if value < 0 or value > limit:
        raise BadUserInput(f"`{name}` must be between 0 and {limit}; got {value}.")
    return value


@dataclass(frozen=True)
class SortKey:
    name: str  # an ORM path: a field, a related field (`category__sort_order`) or an annotation
    descending: bool
    nullable: bool
    field: Any  # the model field or annotation output field: it parses cursor values

    def reversed(self) -> "SortKey":
        return SortKey(self.name, not self.descending, self.nullable, self.field)

    def expression(self, nulls_first: bool) -> Any:
        column = F(self.name)
        if not self.nullable:  # no NULLS clause: a plain index still serves the order
            return column.desc() if self.descending else column.asc()
        placement = {"nulls_first": True} if nulls_first else {"nulls_last": True}
        return column.desc(**placement) if self.descending else column.asc(**placement)


def _output_field(queryset: QuerySet, name: str) -> tuple[str, Any, bool]:
    """(path, field, nullable) for an ordering path of `queryset`'s model; a foreign key is
    ordered by its column, not by the related model's default order."""
    if name in queryset.query.annotations:
        # An annotation (a subquery, say) may be NULL whatever its output field says.
        return name, queryset.query.annotations[name].output_field, True
    model, parts = queryset.model, name.split(LOOKUP_SEP)
    nullable = False
    for position, part in enumerate(parts):
        field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        nullable = nullable or field.null
        if position < len(parts) - 1:
            model = field.related_model
    if field.is_relation:
        parts[-1] = field.attname
        field = field.target_field
    return LOOKUP_SEP.join(parts), field, nullable


def _unique_column(queryset: QuerySet, name: str) -> bool:
    """Whether `name` is a non-null unique column of the queryset's own model."""
    if name in queryset.query.annotations or LOOKUP_SEP in name:
        return False
    try:
        field = queryset.model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return field.concrete and not field.is_relation and field.unique and not field.null


def sort_keys(queryset: QuerySet) -> list[SortKey]:
    """The queryset's order as keys, ending with the primary key, or sooner with a unique
    column, so that the order is total."""
    ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    keys = []
    for entry in ordering:
        if not isinstance(entry, str) or entry == "?":
            raise TypeError(f"keyset pagination needs field names in order_by, not {entry!r}")
        name = entry.lstrip("-")
        if name == "id":
            name = "pk"
        try:
            name, field, nullable = _output_field(queryset, name)
        except FieldDoesNotExist as error:
            raise TypeError(f"cannot paginate by {name!r}: {error}") from error
        keys.append(SortKey(name, entry.startswith("-"), nullable, field))
        if name == "pk" or _unique_column(queryset, name):
            # A unique key orders every row by itself: later keys (and the id) add nothing, and
            # a cursor of that key alone is one index range (`position < x`), where a trailing
            # id would make it an OR the database cannot bound (issue 15).
            return keys
    if not keys or keys[-1].name != "pk":
        keys.append(SortKey("pk", False, False, queryset.model._meta.pk))
    return keys


def _scope(info: GraphQLResolveInfo, keys: list[SortKey]) -> str:
    order = ",".join(("-" if key.descending else "") + key.name for key in keys)
    return f"{info.parent_type.name}.{info.field_name}:{order}"


def _row_value(row: Any, key: SortKey) -> Any:
    if key.name == "pk":
        return row.pk
    if key.name in row.__dict__:  # a concrete field or an annotation on the row itself
        return row.__dict__[key.name]
    return getattr(row, f"_cursor_{key.name}")


def _encoded(value: Any) -> CursorValue:
    if value is None or isinstance(value, int):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cursor_of(row: Any, keys: list[SortKey], scope: str) -> str:
    return encode_cursor(scope, [_encoded(_row_value(row, key)) for key in keys])


def _parsed_cursor(cursor: Any, keys: list[SortKey], scope: str, name: str) -> list[Any] | None:
    if cursor is None:
        return None
    values = decode_cursor(cursor, scope)
    if values is not None and len(values) == len(keys):
        try:
            parsed = [
                None if value is None else key.field.to_python(value)
                for key, value in zip(keys, values, strict=True)
            ]
        except (ValidationError, TypeError, ValueError):
            parsed = None
        if parsed is not None and all(
            (value is None) == (raw is None) and (value is not None or key.nullable)
            for key, value, raw in zip(keys, parsed, values, strict=True)
        ):
            if [_encoded(value) for value in parsed] == values:
                return parsed
    raise BadUserInput(
        f"`{name}` is not a valid cursor of this connection in this order; "
        "use a cursor it handed out, with the same arguments."
    )


_NOTHING = Q(pk__in=[])


def _beyond(keys: list[SortKey], values: list[Any], nulls_first: bool) -> Q:
    """Rows strictly after the row with `values` in the order of `keys`."""
    alternatives, equal_so_far = [], []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            after = Q(**{f"{key.name}__isnull": False}) if nulls_first else _NOTHING
            equal = Q(**{f"{key.name}__isnull": True})
        else:
            after = Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": value})
            if key.nullable and not nulls_first:
                after |= Q(**{f"{key.name}__isnull": True})
            equal = Q(**{key.name: value})
        alternatives.append(reduce(and_, [*equal_so_far, after]))
        equal_so_far.append(equal)
    return _leading_range(keys[0], values[0]) & reduce(or_, alternatives)


def _leading_range(key: SortKey, value: Any) -> Q:
    """`first key ≥ value` (≤ when descending): implied by the alternatives, but unlike their OR
    the database can read it as an index range, so a deep page starts where its cursor points
    instead of filtering every row before it. Only for a key that cannot be NULL."""
    if value is None or key.nullable:
        return Q()
    return Q(**{f"{key.name}__{'lte' if key.descending else 'gte'}": value})


def _with_related_keys(queryset: QuerySet, keys: list[SortKey]) -> QuerySet:
    """Select the keys that live on related rows, so building cursors runs no query."""
    related = {f"_cursor_{key.name}": F(key.name) for key in keys if LOOKUP_SEP in key.name}
    return queryset.annotate(**related) if related else queryset


class LazyCount:
    """The connection's total, counted the first time `totalCount` is resolved."""

    def __init__(self, count: Callable[[], int]):
        self._count, self._value = count, None

    def __call__(self) -> int:
        if self._value is None:
            self._value = self._count()
        return self._value


def resolve_connection(
    connection_type: type[graphene.relay.Connection],
    queryset: QuerySet,
    info: GraphQLResolveInfo,
    args: dict[str, Any],
) -> graphene.relay.Connection:
    """One page of `queryset`: a single SELECT (plus a COUNT when `totalCount` is selected). The
    page's nodes are handed to the dataloaders registered for the node type so nested fields
    batch."""
    first = checked_page_size(args, "first")
    last = checked_page_size(args, "last")
    keys = sort_keys(queryset)
    scope = _scope(info, keys)
    after = _parsed_cursor(args.get("after"), keys, scope, "after")
    before = _parsed_cursor(args.get("before"), keys, scope, "before")
    if first is None and last is None:
        first = settings.GRAPHQL_MAX_PAGE_SIZE
    total = LazyCount(queryset.count)

    page = queryset
    if after is not None:
        page = page.filter(_beyond(keys, after, nulls_first=False))
    if before is not None:
        page = page.filter(_beyond([key.reversed() for key in keys], before, nulls_first=True))
    backwards = first is None  # only `last`: read from the end, then restore the order
    order = [key.reversed() for key in keys] if backwards else keys
    page = _with_related_keys(page, keys).order_by(*[key.expression(backwards) for key in order])
    wanted = last if backwards else first
    rows = list(page[: wanted + 1])
    more = len(rows) > wanted
    rows = rows[:wanted]
    if backwards:
        rows.reverse()
    elif last is not None and len(rows) > last:  # both given: the last `last` of the first page
        rows = rows[len(rows) - last :]

    edges = [connection_type.Edge(node=row, cursor=_cursor_of(row, keys, scope)) for row in rows]
    # Relay lets these be approximate in the direction not paged: a cursor given there means
    # rows exist beyond it, which costs no query to say.
    return _connection(
        connection_type,
        info,
        edges,
        total,
        has_previous=more if backwards else after is not None,
        has_next=before is not None if backwards else more,
    )


def _connection(
    connection_type: type[graphene.relay.Connection],
    info: GraphQLResolveInfo,
    edges: list,
    total: LazyCount,
    *,
    has_previous: bool,
    has_next: bool,
) -> graphene.relay.Connection:
    connection = connection_type(
        edges=edges,
        page_info=graphene.relay.PageInfo(
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=has_previous,
            has_next_page=has_next,
        ),
    )
    connection.length = total
    prime_siblings(info.context, connection_type._meta.node._meta.name, [e.node for e in edges])
    return connection


def positional_scope(info: GraphQLResolveInfo, order: str) -> str:
    return f"{info.parent_type.name}.{info.field_name}:{order}@"


def offset_after(info: GraphQLResolveInfo, order: str, cursor: Any) -> int:
    """Where the page after `cursor` starts, for a connection paginated by position."""
    if cursor is None:
        return 0
    position = decode_offset_cursor(cursor, positional_scope(info, order))
    if position is None:
        raise BadUserInput(
            "`after` is not a valid cursor of this connection in this order; "
            "use a cursor it handed out, with the same arguments."
        )
    return position + 1


def offset_cursor(info: GraphQLResolveInfo, order: str, position: int) -> str:
    return encode_cursor(positional_scope(info, order), [position])


def resolve_positional_connection(
    connection_type: type[graphene.relay.Connection],
    results: Any,
    info: GraphQLResolveInfo,
    args: dict[str, Any],
) -> graphene.relay.Connection:
    """A page of a sliceable, countable sequence ranked elsewhere (a search backend's relevance
    order cannot be expressed as a keyset here): `first`/`after` by position only."""
    if args.get("last") is not None or args.get("before") is not None:
        raise BadUserInput("Search results are paged forwards only: use `first` and `after`.")
    first = checked_page_size(args, "first")
    if first is None:
        first = settings.GRAPHQL_MAX_PAGE_SIZE
    order = results.order
    start = offset_after(info, order, args.get("after"))
    rows = list(results[start : start + first + 1])
    more = len(rows) > first
    edges = [
        connection_type.Edge(node=row, cursor=offset_cursor(info, order, start + index))
        for index, row in enumerate(rows[:first])
    ]
    return _connection(
        connection_type,
        info,
        edges,
        LazyCount(results.count),
        has_previous=start > 0,
        has_next=more,
    )


class PaginatedField(graphene.relay.ConnectionField):
    """A connection field whose resolver returns a queryset; pagination is applied here."""

    def wrap_resolve(self, parent_resolver):
        resolver = super(graphene.relay.ConnectionField, self).wrap_resolve(parent_resolver)
        connection_type = self.type
        while hasattr(connection_type, "of_type"):
            connection_type = connection_type.of_type

        def paginated(root, info, **args):
            page_args = {name: args.pop(name, None) for name in PAGINATION_ARGS}
            queryset = resolver(root, info, **args)
            if not isinstance(queryset, QuerySet):  # search results: paginated by position
                return resolve_positional_connection(connection_type, queryset, info, page_args)
            return resolve_connection(connection_type, queryset, info, page_args)

        return paginated
