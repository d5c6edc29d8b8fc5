"""`insert_rows` (shop/core/bulk.py) stores what `bulk_create` stores: the same columns, the
primary keys read back (or the ones given), the instances marked saved, one statement."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from procurement.models import OrderEvent, OrderStatus
from search.models import ProductSearchEntry
from shop.core.bulk import insert_rows
from shop.core.models import AuditEvent, Notification
from tests.factories import UserFactory
from tests.procurement.flows import buyer, place, stocked_variant


def _stored(model, objs) -> list[dict]:
    """The rows of `objs` as stored, without what differs between two inserts by design."""
    skip = {model._meta.pk.attname, "created_at", "enqueued_at"}
    rows = model.objects.filter(pk__in=[o.pk for o in objs]).values()
    # in the order of `objs` (a UUID key's order is not theirs)
    by_pk = {row[model._meta.pk.attname]: row for row in rows}
    return [{k: v for k, v in by_pk[o.pk].items() if k not in skip} for o in objs]


def _twice(make) -> tuple[list, list]:
    """The same new rows inserted by `bulk_create` and by `insert_rows`."""
    first, second = make(), make()
    type(first[0]).objects.bulk_create(first)
    with CaptureQueriesContext(connection) as queries:
        returned = insert_rows(second)
    assert returned == second
    assert len(queries.captured_queries) == 1
    return first, second


def test_rows_of_text_json_foreign_keys_and_auto_stamps_are_stored_as_by_bulk_create(db):
    actor = UserFactory()

    def make():
        return [
            AuditEvent(
                actor=actor if n % 2 else None,
                actor_email=actor.email,
                action="order.place",
                object_type="procurement.order",
                object_id=str(n),
                reason="山海 ' \" \\ %s %(x)s",  # quoting and placeholders are data
                data={"subtotal": str(Decimal("12.30") * n), "nested": [1, None, "二"]},
            )
            for n in range(3)
        ]

    by_bulk_create, by_insert_rows = _twice(make)
    assert _stored(AuditEvent, by_insert_rows) == _stored(AuditEvent, by_bulk_create)
    for event in by_insert_rows:
        assert event.pk is not None
        assert (event._state.adding, event._state.db) == (False, "default")
        assert event.created_at is not None  # auto_now_add, as on a save
    assert [e.pk for e in by_insert_rows] == sorted(e.pk for e in by_insert_rows)


def test_choices_members_dates_and_nulls_are_prepared_as_by_bulk_create(db):
    (order,) = place(buyer(), (stocked_variant(), 1))
    reader = UserFactory()

    def make():
        return [
            OrderEvent(order=order, kind="placed", to_status=OrderStatus.PLACED, actor=None),
            OrderEvent(order=order, kind="note", note="", actor=reader, actor_email=reader.email),
        ]

    by_bulk_create, by_insert_rows = _twice(make)
    assert _stored(OrderEvent, by_insert_rows) == _stored(OrderEvent, by_bulk_create)

    # an offset other than UTC's: sent with it, read back as the same instant
    read_at = timezone.localtime() - timedelta(days=1, microseconds=1)

    def notes():
        return [
            Notification(user=reader, subject="s", body="b", read_at=read_at),
            Notification(user=reader, subject="s", body="b"),
        ]

    by_bulk_create, by_insert_rows = _twice(notes)
    assert _stored(Notification, by_insert_rows) == _stored(Notification, by_bulk_create)
    assert Notification.objects.get(pk=by_insert_rows[0].pk).read_at == read_at


def test_rows_with_their_primary_keys_given_keep_them(db):
    def make():
        return [
            DBTaskResult(
                task_path="shop.core.notifications.send_email",
                args_kwargs={"args": ["s", "b", f"{n}@example.com"], "kwargs": {}},
                backend_name="default",
                run_after=get_date_max(),
            )
            for n in range(2)
        ]

    by_bulk_create, by_insert_rows = _twice(make)
    given = [row.pk for row in by_insert_rows]
    assert _stored(DBTaskResult, by_insert_rows) == _stored(DBTaskResult, by_bulk_create)
    stored = DBTaskResult.objects.filter(pk__in=given).values_list("pk", flat=True)
    assert sorted(stored) == sorted(given)


def test_a_model_with_a_field_of_its_own_class_goes_through_bulk_create(db):
    from shop.core.bulk import _eligible

    assert not _eligible(ProductSearchEntry)  # its search vector is a custom field
    assert _eligible(AuditEvent)


def test_nothing_to_insert_is_no_statement(db):
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows([]) == []
    assert not queries.captured_queries
