"""`CompiledQuery`: a fixed-shape read that every request makes, built and compiled by the
ORM once per process and connection, then run with new parameters (docs/decisions.md,
"Hot reads compiled once").

A checkout makes five reads whose shape never changes (the basket's variants, their tier
prices, the webhook endpoints and the people of the organisations, …); building each queryset
and compiling it to SQL was ~45 % of a checkout's Python. Here the queryset is built by the
same function the ORM path uses (so a rule such as `sellable_condition` keeps one spelling),
with a marker value in place of each argument; its SQL is compiled once, and the markers'
positions among the parameters are replaced by the arguments on every run. The rows go
through the compiler's own converters and, for instances, Django's own related populators.

PostgreSQL only: a marker must compile to one parameter whatever the argument (ids as one
array with `__in_ids`), which SQLite (the embedded default) does not do; there, and for an
argument that needs a different shape, the queryset is built and run as usual.
"""

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

from shop.core.lookups import as_ids

# Marker values no argument takes: ids far below any sequence's, a date in year 1, a text
# with a NUL (which PostgreSQL text cannot hold).
_ID_MARKER_BASE = -(2**62)
_DATE_MARKER_BASE = date(1, 1, 1)


def ids_marker(n: int) -> list[int]:
    return [_ID_MARKER_BASE - n]


def date_marker(n: int) -> date:
    return _DATE_MARKER_BASE.replace(day=1 + n)


def int_marker(n: int) -> int:
    # in the range of every integer column, positive small ones too (Django compiles a value
    # outside it as "no rows"); only compiled, never run: a clash with another parameter of
    # the query is refused (`CompiledQuery`), not missed
    return 32_700 - n


def text_marker(n: int) -> str:
    return f"\x00compiled-query-marker-{n}"  # never sent: replaced before every run


@dataclass
class _Compiled:
    sql: str
    params: list[Any]
    positions: dict[str, int]  # argument name → index in params
    compiler: Any
    converters: dict  # the compiler's, by column: found once, as the SQL


class CompiledQuery:
    """`build(**arguments)` returns a queryset of `model` of one shape whatever the arguments;
    `markers` gives, per argument, the marker it is built with once (`ids_marker(n)`,
    `date_marker(n)`, `int_marker(n)`, `text_marker(n)`: each a different n). Id arguments must
    reach the SQL through `__in_ids`."""

    def __init__(
        self,
        model: type[Model],
        build: Callable[..., QuerySet],
        *,
        for_write: bool = False,
        **markers: Any,
    ) -> None:
        self.model = model
        self.build = build
        # as the queryset's own `db`: a read that locks (select_for_update) goes where writes go
        self.for_write = for_write
        self.markers = markers
        self._by_connection: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compiled(self, queryset: QuerySet) -> _Compiled:
        if queryset._for_write != self.for_write:
            raise ValueError(f"the queryset's for_write is {queryset._for_write}: say so")
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        params = list(params)
        positions = {}
        for name, marker in self.markers.items():
            found = [i for i, param in enumerate(params) if param == marker]
            if len(found) != 1:
                raise ValueError(f"{name}: its marker is {len(found)} parameters, not one")
            positions[name] = found[0]
        converters = compiler.get_converters([c[0] for c in compiler.select[: compiler.col_count]])
        return _Compiled(sql, params, positions, compiler, converters)

    def _run(self, arguments: dict[str, Any]) -> tuple[Any, list] | None:
        """The compiler and the fetched rows, converted as the compiler's `results_iter` would,
        or None where the ORM runs the query."""
        if arguments.keys() != self.markers.keys():
            raise TypeError(f"arguments {sorted(arguments)}, expected {sorted(self.markers)}")
        route = router.db_for_write if self.for_write else router.db_for_read
        connection = connections[route(self.model)]
        if connection.vendor != "postgresql":
            return None
        compiled = self._by_connection.get(connection)
        if compiled is None:
            queryset = self.build(**self.markers).using(connection.alias)
            compiled = self._by_connection[connection] = self._compiled(queryset)
        params = list(compiled.params)
        for name, position in compiled.positions.items():
            value = arguments[name]
            # ids as `__in_ids` sends them: one sorted array of distinct ints
            params[position] = as_ids(value) if isinstance(self.markers[name], list) else value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return compiled.compiler, rows

    def rows(self, **arguments: Any) -> list[tuple]:
        """The rows of a `values_list()` queryset (not flat, fields in the order named)."""
        run = self._run(arguments)
        if run is None:
            return list(self.build(**arguments))
        _compiler, rows = run
        return [tuple(row) for row in rows]

    def instances(self, **arguments: Any) -> list[Model]:
        """The model instances of the queryset, with what it selects related and annotates."""
        run = self._run(arguments)
        if run is None:
            return list(self.build(**arguments))
        compiler, rows = run
        db = compiler.using
        select, klass_info = compiler.select, compiler.klass_info
        model_cls = klass_info["model"]
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        init_list = [f[0].target.attname for f in select[start:end]]
        populators = get_related_populators(klass_info, select, db)
        annotations = compiler.annotation_col_map.items()
        found = []
        # as Django's ModelIterable does (without known related objects: none here)
        for row in rows:
            obj = model_cls.from_db(db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations:
                setattr(obj, name, row[position])
            found.append(obj)
        return found
