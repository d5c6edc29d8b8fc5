"""Relay pagination over querysets, with a page-size limit and dataloader priming."""

from typing import Any

import graphene
from django.conf import settings
from django.db.models import QuerySet
from graphql import GraphQLResolveInfo
from graphql_relay import connection_from_array_slice

from shop.core.errors import BadUserInput
from shop.core.graphql.dataloaders import prime_siblings
from shop.core.graphql.ids import decode_cursor


def _page_info(startCursor, endCursor, hasPreviousPage, hasNextPage):  # noqa: N803
    return graphene.relay.PageInfo(
        start_cursor=startCursor,
        end_cursor=endCursor,
        has_previous_page=hasPreviousPage,
        has_next_page=hasNextPage,
    )


PAGINATION_ARGS = ("first", "last", "after", "before")


def _checked_page_size(args: dict[str, Any], name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    limit = settings.GRAPHQL_MAX_PAGE_SIZE
    if value < 0 or value > limit:
        raise BadUserInput(f"`{name}` must be between 0 and {limit}; got {value}.")
    return value


def _checked_cursor(args: dict[str, Any], name: str) -> int | None:
    cursor = args.get(name)
    if cursor is None:
        return None
    offset = decode_cursor(cursor)
    if offset is None:
        raise BadUserInput(f"`{name}` is not a valid cursor.")
    return offset


def resolve_connection(
    connection_type: type[graphene.relay.Connection],
    queryset: QuerySet,
    info: GraphQLResolveInfo,
    args: dict[str, Any],
) -> graphene.relay.Connection:
    """Slice `queryset` for one page. Costs one COUNT and one SELECT; the page's nodes are
    handed to the dataloaders registered for the node type so that nested fields batch."""
    first = _checked_page_size(args, "first")
    last = _checked_page_size(args, "last")
    after = _checked_cursor(args, "after")
    _checked_cursor(args, "before")
    if first is None and last is None:
        first = settings.GRAPHQL_MAX_PAGE_SIZE
    total = queryset.count()
    slice_start = 0
    if after is not None:
        slice_start = min(after + 1, total)
    connection = connection_from_array_slice(
        queryset[slice_start:],
        {"first": first, "last": last, "after": args.get("after"), "before": args.get("before")},
        slice_start=slice_start,
        array_length=total,
        array_slice_length=total - slice_start,
        connection_type=lambda edges, pageInfo: connection_type(edges=edges, page_info=pageInfo),
        edge_type=connection_type.Edge,
        page_info_type=_page_info,
    )
    connection.length = total
    node_type_name = connection_type._meta.node._meta.name
    prime_siblings(info.context, node_type_name, [edge.node for edge in connection.edges])
    return connection


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
            return resolve_connection(connection_type, queryset, info, page_args)

        return paginated
