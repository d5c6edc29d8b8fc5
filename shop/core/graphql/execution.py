"""The execution context every GraphQL request runs with (shop/core/graphql/view.py).

A storefront listing page completes ~3,100 fields, and graphql-core spends ~25 µs of CPU on
each whatever it does: a `Path`, a `GraphQLResolveInfo`, the argument values, the resolver
call and four or five type checks in `complete_value`, before the value is serialised. Most of
those fields are plain reads (a product's `name`, a price's `amount`, a thumbnail's `url`):
graphene's default resolver returning an attribute or a dict key, then the scalar's
`serialize`. Those take a short path here that does exactly those two steps; every other
field, and every plain read whose value is not a clean serialisable non-null value (a null
for a non-null field, a serialiser that raises or refuses), goes the standard way, so the
answers and errors are graphql-core's own, byte for byte.

What makes a field a plain read is decided once per selection set and execution: the
resolver is graphene's default (no `resolve_<field>` on the type, no resolver on the field:
visibility rules and live-stock bookkeeping all live in resolvers, so they are never
skipped), the field takes no arguments, its type is a scalar or an enum (non-null or not),
and no GraphQL middleware is installed.
"""

from functools import partial
from typing import Any

from graphene.types.resolver import dict_or_attr_resolver
from graphql import (
    ExecutionContext,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    is_leaf_type,
    located_error,
)
from graphql.execution.execute import get_field_def, invalid_return_type_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, is_iterable

# (attribute name, default value, leaf type, non-null) of a plain read
_PlainRead = tuple[str, Any, GraphQLLeafType, bool]


def plain_read(field: GraphQLField | None) -> _PlainRead | None:
    """How to read `field` without graphql-core's per-field machinery, or None if it needs it."""
    if field is None or field.args:
        return None
    resolve = field.resolve
    if not (
        isinstance(resolve, partial)
        and resolve.func is dict_or_attr_resolver
        and len(resolve.args) == 2
        and not resolve.keywords
    ):
        return None
    field_type, non_null = field.type, False
    if isinstance(field_type, GraphQLNonNull):
        field_type, non_null = field_type.of_type, True
    if not is_leaf_type(field_type):
        return None
    attname, default = resolve.args
    return attname, default, field_type, non_null


class SynchronousExecutionContext(ExecutionContext):
    """Every resolver here returns a value, never an awaitable (the dataloaders batch without
    promises), so graphql-core's per-field check for one is skipped; plain reads of scalars
    take the short path described above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(fields) -> (fields, plan): the selection sets come from graphql-core's own
        # per-execution cache, so the same dict object is seen for every item of a list;
        # holding it keeps its id from being reused by another dict.
        self._plans: dict[int, tuple[dict, list]] = {}

    @staticmethod
    def is_awaitable(_value: Any) -> bool:
        return False

    def _plan(self, parent_type: GraphQLObjectType, fields: dict) -> list:
        entry = self._plans.get(id(fields))
        if entry is not None and entry[0] is fields:
            return entry[1]
        manager = self.middleware_manager
        # an empty middleware list gives a manager that wraps nothing
        plain = manager is None or not manager.middlewares
        plan = [
            (
                name,
                nodes,
                plain_read(parent_type.fields.get(nodes[0].name.value)) if plain else None,
            )
            for name, nodes in fields.items()
        ]
        self._plans[id(fields)] = (fields, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict,
    ) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for response_name, field_nodes, read in self._plan(parent_type, fields):
            if read is not None:
                done, value = _read_plainly(source_value, read)
                if done:
                    results[response_name] = value
                    continue
            result = self.execute_field(
                parent_type, source_value, field_nodes, Path(path, response_name, parent_type.name)
            )
            if result is not Undefined:
                results[response_name] = result
        return results

    # graphql-core's execute_field, complete_value and complete_list_value without their
    # branches for awaitables (there are none here) and with the type tests inlined: the
    # same steps in the same order, so the same answers and errors.

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_nodes: list[FieldNode],
        path: Path,
    ) -> Any:
        field_def = get_field_def(self.schema, parent_type, field_nodes[0])
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = GraphQLResolveInfo(
            field_nodes[0].name.value,
            field_nodes,
            return_type,
            parent_type,
            path,
            self.schema,
            self.fragments,
            self.root_value,
            self.operation,
            self.variable_values,
            self.context_value,
            self.is_awaitable,
        )
        try:
            # with no arguments defined, graphql-core's coercion returns {} (validation has
            # refused any argument the field does not define)
            args = (
                get_argument_values(field_def, field_nodes[0], self.variable_values)
                if field_def.args
                else {}
            )
            result = resolve_fn(source, info, **args)
            return self.complete_value(return_type, field_nodes, info, path, result)
        except Exception as raw_error:
            error = located_error(raw_error, field_nodes, path.as_list())
            self.handle_field_error(error, return_type)
            return None

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if isinstance(return_type, GraphQLNonNull):
            completed = self.complete_value(return_type.of_type, field_nodes, info, path, result)
            if completed is None:
                raise TypeError(
                    "Cannot return null for non-nullable field"
                    f" {info.parent_type.name}.{info.field_name}."
                )
            return completed
        if result is None or result is Undefined:
            return None
        if isinstance(return_type, GraphQLObjectType):
            return self.complete_object_value(return_type, field_nodes, info, path, result)
        if isinstance(return_type, GraphQLList):
            return self.complete_list_value(return_type, field_nodes, info, path, result)
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return self.complete_leaf_value(return_type, result)
        if isinstance(return_type, GraphQLInterfaceType | GraphQLUnionType):
            return self.complete_abstract_value(return_type, field_nodes, info, path, result)
        return super().complete_value(return_type, field_nodes, info, path, result)

    def complete_list_value(
        self,
        return_type: GraphQLList,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        if not is_iterable(result):
            return super().complete_list_value(return_type, field_nodes, info, path, result)
        item_type = return_type.of_type
        completed_results = []
        append = completed_results.append
        complete_value = self.complete_value
        for index, item in enumerate(result):
            item_path = path.add_key(index, None)
            try:
                completed = complete_value(item_type, field_nodes, info, item_path, item)
            except Exception as raw_error:
                error = located_error(raw_error, field_nodes, item_path.as_list())
                self.handle_field_error(error, item_type)
                completed = None
            append(completed)
        return completed_results

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> dict[str, Any]:
        sub_field_nodes = self.collect_subfields(return_type, field_nodes)
        if return_type.is_type_of and not return_type.is_type_of(result, info):
            raise invalid_return_type_error(return_type, result, field_nodes)
        return self.execute_fields(return_type, result, path, sub_field_nodes)


def _read_plainly(source: Any, read: _PlainRead) -> tuple[bool, Any]:
    """(True, the serialised value) when a plain read gives what graphql-core would have
    answered without an error, else (False, None) and the field goes the standard way."""
    attname, default, leaf_type, non_null = read
    try:
        if isinstance(source, dict):
            value = source.get(attname, default)
        else:
            value = getattr(source, attname, default)
        if value is None or value is Undefined:
            return (not non_null), None
        if isinstance(value, Exception):
            return False, None
        serialized = leaf_type.serialize(value)
    except Exception:  # noqa: BLE001 - the standard path reads again and reports it
        return False, None
    if serialized is None or serialized is Undefined:
        return False, None
    return True, serialized
