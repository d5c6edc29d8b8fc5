"""Limits on query shape, checked before execution. Each refusal is a top-level error with
`extensions.code` QUERY_TOO_COMPLEX and says which limit was hit.

Depth, aliases and field count are checked on the syntax tree before standard validation
(whose overlapping-fields rule is quadratic in the number of fields). Cost needs the variables,
so it is checked after validation: every field costs 1, and a field taking `first`/`last`
multiplies the cost of what it selects by that page size (the maximum page size if omitted).
"""

from typing import Any

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
MAX_FIELDS = 5000


def _too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX})


class _Walker:
    def __init__(self, document: DocumentNode, variables: dict[str, Any] | None):
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables or {}
        self.aliases = 0
        self.fields = 0

    def depth_and_cost(
        self, selection_set: SelectionSetNode | None, depth: int, seen: frozenset[str]
    ) -> tuple[int, int]:
        """(deepest field depth, cost) of a selection set, following fragments once per path."""
        if selection_set is None:
            return depth, 0
        deepest, cost = depth, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.fields += 1
                if selection.alias is not None:
                    self.aliases += 1
                    if self.aliases > settings.GRAPHQL_MAX_ALIASES:
                        raise _too_complex(
                            f"The query uses more than {settings.GRAPHQL_MAX_ALIASES} aliases."
                        )
                if self.fields > MAX_FIELDS:
                    raise _too_complex(f"The query selects more than {MAX_FIELDS} fields.")
                child_depth, child_cost = self.depth_and_cost(
                    selection.selection_set, depth + 1, seen
                )
                deepest = max(deepest, child_depth)
                cost += 1 + self._page_size(selection) * child_cost
            elif isinstance(selection, InlineFragmentNode):
                child_depth, child_cost = self.depth_and_cost(selection.selection_set, depth, seen)
                deepest, cost = max(deepest, child_depth), cost + child_cost
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # standard validation reports unknown or cyclic fragments
                child_depth, child_cost = self.depth_and_cost(
                    fragment.selection_set, depth, seen | {name}
                )
                deepest, cost = max(deepest, child_depth), cost + child_cost
        return deepest, cost

    def _page_size(self, field: FieldNode) -> int:
        sizes = []
        for argument in field.arguments or ():
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self.variables)
                sizes.append(value if isinstance(value, int) and value >= 0 else 0)
        if not sizes:
            return 1
        return max(sizes) or 1


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def check_shape(document: DocumentNode) -> list[GraphQLError]:
    """Depth, alias and field-count limits; run before standard validation."""
    try:
        for operation in _operations(document):
            walker = _Walker(document, None)
            depth, _cost = walker.depth_and_cost(operation.selection_set, 0, frozenset())
            if depth > settings.GRAPHQL_MAX_DEPTH:
                return [
                    _too_complex(
                        f"The query is {depth} levels deep; the limit is "
                        f"{settings.GRAPHQL_MAX_DEPTH}."
                    )
                ]
    except GraphQLError as error:
        return [error]
    return []


def check_cost(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> list[GraphQLError]:
    """The cost limit; run after validation, with the request's variables."""
    for operation in _operations(document):
        if operation_name and operation.name and operation.name.value != operation_name:
            continue
        _depth, cost = _Walker(document, variables).depth_and_cost(
            operation.selection_set, 0, frozenset()
        )
        if cost > settings.GRAPHQL_MAX_COST:
            return [
                _too_complex(
                    f"The query's cost is {cost}; the limit is {settings.GRAPHQL_MAX_COST}. "
                    "Ask for smaller pages or fewer nested lists."
                )
            ]
    return []
