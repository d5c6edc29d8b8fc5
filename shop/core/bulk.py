"""`insert_rows`: new rows of one model in one INSERT, for the write paths every request runs
(a checkout inserts its orders, lines, order events, audit events, outbound events,
notifications and e-mail jobs this way: docs/decisions.md, "Rows inserted without bulk_create").

It does what `bulk_create` does for plain rows (primary keys read back with RETURNING, the
instances marked saved, no signals) at a fraction of the CPU. `bulk_create` compiles its INSERT
again on every call, preparing each value through its field, and on PostgreSQL sends one array
per column (`UNNEST`), which psycopg's client-side binding spells out as literals in Python:
1–2.5 ms of CPU for a handful of rows, a seventh of a checkout's. Here the statement's text is
built once per model, and the rows go as one JSON parameter that PostgreSQL turns into the
table's row type (`jsonb_populate_recordset`): encoded by the json module's C encoder, and one
short statement whatever the number of rows, which psycopg parses once (it parses a statement
of more than 50 parameters again on every execution). A value goes as it is when Django's own
preparation would hand it over unchanged (a `str` for a CharField, an aware `datetime` for a
DateTimeField, …), otherwise through the field's `get_db_prep_save`, as in `bulk_create`; then
decimals, UUIDs, dates and times go as their text, which PostgreSQL reads back exactly.

PostgreSQL only, and only for models whose fields are all of Django's plain classes (numbers,
text, booleans, dates and times, UUIDs, JSON, foreign keys to those): anything else (SQLite,
the embedded default; a custom field; a parent table; a `db_default`) goes to `bulk_create`.
Values, not expressions (`F()`, `Now()`): those raise TypeError.
"""

import json
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from django.db import connections, models, router
from psycopg.types.json import Jsonb

M = TypeVar("M", bound=models.Model)

# Field classes (exactly these, not subclasses, which may prepare values their own way) whose
# `get_db_prep_save` returns a value of these types unchanged on PostgreSQL.
_AS_IS: dict[type[models.Field], tuple[type, ...]] = {
    **dict.fromkeys(
        (
            models.AutoField,
            models.BigAutoField,
            models.SmallAutoField,
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField,
        ),
        (int,),
    ),
    **dict.fromkeys(
        (models.CharField, models.TextField, models.EmailField, models.SlugField), (str,)
    ),
    models.BooleanField: (bool,),
    models.DecimalField: (Decimal,),
    models.DateField: (date,),
    models.UUIDField: (UUID,),
}
# Fields whose prepared values `_jsonable` sends exactly, besides those of `_AS_IS`.
_PLAIN = frozenset({*_AS_IS, models.DateTimeField, models.JSONField})


def _preparer(field: models.Field) -> Callable[[Any, Any], Any]:
    """What turns `field`'s Python value into the parameter sent, given the connection (see
    the module docstring)."""
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if type(target) is models.DateTimeField:
        # Django makes a naive datetime aware (with a warning) and a date a datetime
        def aware_as_is(value: Any, connection: Any) -> Any:
            if value is None or (type(value) is datetime and value.tzinfo is not None):
                return value
            return field.get_db_prep_save(value, connection)

        return aware_as_is
    types = _AS_IS.get(type(target))
    if types is None:
        return lambda value, connection: field.get_db_prep_save(value, connection)
    as_is = frozenset((*types, type(None)))

    def plain_as_is(value: Any, connection: Any) -> Any:
        # exact types: a bool is not an int here, nor a TextChoices member a str
        return value if type(value) in as_is else field.get_db_prep_save(value, connection)

    return plain_as_is


@lru_cache(maxsize=64)
def _columns(model: type[models.Model], with_pk: bool) -> tuple:
    """The fields inserted (the automatic primary key left to the database unless given), how
    each reads its value from an instance, and its preparer."""
    opts = model._meta
    fields = [
        f
        for f in opts.concrete_fields
        if not f.generated and (with_pk or not isinstance(f, models.AutoField))
    ]
    columns = []
    for field in fields:
        # auto_now(_add) and the like set their value in pre_save; the rest read the attribute
        custom_pre_save = type(field).pre_save is not models.Field.pre_save
        columns.append((field, custom_pre_save, _preparer(field)))
    return tuple(columns)


@lru_cache(maxsize=64)
def _statement(model: type[models.Model], with_pk: bool, alias: str) -> str:
    """One statement for any number of rows: the rows as one JSON array of objects, turned
    into the table's row type by PostgreSQL (`jsonb_populate_recordset`)."""
    quote = connections[alias].ops.quote_name
    opts = model._meta
    table = quote(opts.db_table)
    names = ", ".join(quote(field.column) for field, _pre, _prep in _columns(model, with_pk))
    # names from the model's metadata, quoted; the rows are the one parameter
    sql = (
        f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    )
    if not with_pk:
        sql += f" RETURNING {table}.{quote(opts.pk.column)}"
    return sql


def _jsonable(value: Any) -> Any:
    """A prepared value PostgreSQL reads back from its JSON text as the column's type."""
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, date | time):  # and datetime: ISO 8601, with the offset when aware
        return value.isoformat()
    if isinstance(value, Jsonb):  # a JSONField's value, encoded as Django would
        return json.loads(value.dumps(value.obj)) if value.dumps else value.obj
    raise TypeError(f"insert_rows cannot send a {type(value).__name__}")


@lru_cache(maxsize=64)
def _eligible(model: type[models.Model]) -> bool:
    opts = model._meta
    return not opts.parents and all(
        type(f.target_field if isinstance(f, models.ForeignKey) else f) in _PLAIN
        and not f.has_db_default()
        for f in opts.concrete_fields
    )


def insert_rows(objs: Iterable[M]) -> list[M]:
    """Insert `objs` (new instances of one model) as `Model.objects.bulk_create(objs)` would:
    their primary keys set, marked as saved, no signals sent. See the module docstring."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql" or not _eligible(model):
        return model._default_manager.db_manager(alias).bulk_create(objs)
    pk = model._meta.pk
    for obj in objs:
        if not obj._is_pk_set():
            obj.pk = pk.get_pk_value_on_save(obj)  # a default (a UUID, say), or still None
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    with_pk = [obj for obj in objs if obj._is_pk_set()]
    without_pk = [obj for obj in objs if not obj._is_pk_set()]
    with connection.cursor() as cursor:
        for group, has_pk in ((with_pk, True), (without_pk, False)):
            if not group:
                continue
            columns = _columns(model, has_pk)
            rows = [
                {
                    field.column: prepare(
                        field.pre_save(obj, True) if pre else getattr(obj, field.attname),
                        connection,
                    )
                    for field, pre, prepare in columns
                }
                for obj in group
            ]
            payload = json.dumps(rows, default=_jsonable, ensure_ascii=False)
            cursor.execute(_statement(model, has_pk, alias), [payload])
            if not has_pk:
                for obj, (value,) in zip(group, cursor.fetchall(), strict=True):
                    setattr(obj, pk.attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
    return objs
