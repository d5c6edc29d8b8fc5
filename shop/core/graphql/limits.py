"""Limits on a request's document, checked before the work they bound. Each refusal is a
top-level error with `extensions.code` QUERY_TOO_COMPLEX and says which limit was hit.

The work is bounded in three steps, each linear in what the step before allowed:

1. Parsing (`parse_document`) stops after `GRAPHQL_MAX_TOKENS` tokens and when brackets nest
   deeper than `MAX_NESTING`: graphql-core's parser and its value coercion are recursive, so a
   5,000-deep literal would otherwise exhaust the Python stack.
2. `check_shape` walks the tree once, following fragments (at most `MAX_FRAGMENTS`, so the
   recursive fragment rules stay shallow), and stops after `MAX_SELECTIONS` selections. On the
   way it counts depth, aliases and the comparisons standard validation's overlapping-fields
   rule would make: that rule compares every pair of fields sharing a response path (and every
   pair of fragments spread at one), so its work is quadratic; `{ categories { id id … } }`
   with 5,000 `id` took 48 s. The walk refuses above `MAX_OVERLAP_PAIRS` comparisons, before
   `validate` runs.
3. `check_cost` needs the variables, so it runs after validation: every field costs 1, and a
   field taking `first`/`last` multiplies the cost of what it selects by that page size (the
   maximum page size if omitted).
"""

from collections import Counter
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
    TokenKind,
    value_from_ast_untyped,
)
from graphql.language.parser import Parser

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# Selections visited while walking the document with its fragments expanded.
MAX_SELECTIONS = 5000
# Field (and fragment) pairs the overlapping-fields rule would compare; ~20 ms of validation.
MAX_OVERLAP_PAIRS = 5000
MAX_FRAGMENTS = 100
# Brackets ({, [, () open at once. Selection depth has its own, lower limit.
MAX_NESTING = 64

_OPENING = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSING = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})


def _too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX})


class _BoundedParser(Parser):
    """graphql-core's parser, counting tokens and open brackets as they are consumed."""

    def __init__(self, source: str, max_tokens: int):
        super().__init__(source)
        self._token_limit = max_tokens
        self._tokens_read = 0
        self._open_brackets = 0

    def advance_lexer(self) -> None:
        super().advance_lexer()
        kind = self._lexer.token.kind
        if kind == TokenKind.EOF:
            return
        self._tokens_read += 1
        if self._tokens_read > self._token_limit:
            raise _too_complex(f"The document has more than {self._token_limit} tokens.")
        if kind in _OPENING:
            self._open_brackets += 1
            if self._open_brackets > MAX_NESTING:
                raise _too_complex(f"The document nests brackets more than {MAX_NESTING} deep.")
        elif kind in _CLOSING:
            self._open_brackets -= 1


def parse_document(query: str) -> DocumentNode:
    """Parse `query`, refusing it (GraphQLError) once it is too long or too deeply nested."""
    return _BoundedParser(query, settings.GRAPHQL_MAX_TOKENS).parse_document()


class _Walker:
    def __init__(self, document: DocumentNode, variables: dict[str, Any] | None):
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables or {}
        self.aliases = 0
        self.selections = 0
        self.overlap_pairs = 0
        self.fields_at: Counter[tuple[str, ...]] = Counter()
        self.spreads_at: Counter[tuple[str, ...]] = Counter()
        self.expanded: set[str] = set()

    def depth_and_cost(
        self,
        selection_set: SelectionSetNode | None,
        depth: int,
        seen: frozenset[str],
        path: tuple[str, ...] = (),
    ) -> tuple[int, int]:
        """(deepest field depth, cost) of a selection set, following fragments once per path."""
        if selection_set is None:
            return depth, 0
        deepest, cost = depth, 0
        for selection in selection_set.selections:
            self._visit()
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    self.aliases += 1
                    if self.aliases > settings.GRAPHQL_MAX_ALIASES:
                        raise _too_complex(
                            f"The query uses more than {settings.GRAPHQL_MAX_ALIASES} aliases."
                        )
                field_path = (*path, (selection.alias or selection.name).value)
                self._count_pairs(self.fields_at, field_path)
                child_depth, child_cost = self.depth_and_cost(
                    selection.selection_set, depth + 1, seen, field_path
                )
                deepest = max(deepest, child_depth)
                cost += 1 + self._page_size(selection) * child_cost
            elif isinstance(selection, InlineFragmentNode):
                child_depth, child_cost = self.depth_and_cost(
                    selection.selection_set, depth, seen, path
                )
                deepest, cost = max(deepest, child_depth), cost + child_cost
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # standard validation reports unknown or cyclic fragments
                self._count_pairs(self.spreads_at, path)
                self.expanded.add(name)
                child_depth, child_cost = self.depth_and_cost(
                    fragment.selection_set, depth, seen | {name}, path
                )
                deepest, cost = max(deepest, child_depth), cost + child_cost
        return deepest, cost

    def _visit(self) -> None:
        self.selections += 1
        if self.selections > MAX_SELECTIONS:
            raise _too_complex(
                f"The query has more than {MAX_SELECTIONS} selections, fragments expanded."
            )

    def _count_pairs(self, counter: Counter[tuple[str, ...]], path: tuple[str, ...]) -> None:
        # The newcomer is compared with each one already at this response path.
        self.overlap_pairs += counter[path]
        counter[path] += 1
        if self.overlap_pairs > MAX_OVERLAP_PAIRS:
            raise _too_complex(
                "The query repeats fields at the same place too often (more than "
                f"{MAX_OVERLAP_PAIRS} pairs to compare); select each field once."
            )

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
    """Fragment count, selections, overlap, depth and alias limits; run before validation."""
    walker = _Walker(document, None)
    if len(walker.fragments) > MAX_FRAGMENTS:
        return [_too_complex(f"The document defines more than {MAX_FRAGMENTS} fragments.")]
    try:
        deepest = 0
        for operation in _operations(document):
            depth, _cost = walker.depth_and_cost(operation.selection_set, 0, frozenset())
            deepest = max(deepest, depth)
        # Validation also compares fields inside fragments no operation uses.
        for name, fragment in walker.fragments.items():
            if name not in walker.expanded:
                walker.depth_and_cost(fragment.selection_set, 0, frozenset({name}), (name,))
    except GraphQLError as error:
        return [error]
    if deepest > settings.GRAPHQL_MAX_DEPTH:
        return [
            _too_complex(
                f"The query is {deepest} levels deep; the limit is {settings.GRAPHQL_MAX_DEPTH}."
            )
        ]
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
