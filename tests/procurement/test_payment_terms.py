"""Payment within 30 days of acceptance: due dates in Asia/Shanghai, paid on time or not,
idempotent reminders, the overdue list and the dashboard's overdue amounts by city."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from procurement.dashboard import charts
from procurement.jobs import payment_reminders
from procurement.membership import agency_id_of
from procurement.models import Order, PaymentReminder, PaymentReminderKind
from procurement.services.payment_terms import send_payment_reminders
from shop.accounts.models import Role
from tests.conftest import top_level_codes
from tests.factories import AgencyFactory, UserFactory
from tests.factories.procurement import city
from tests.procurement import flows
from tests.procurement.flows import buyer, place, stocked_variant

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SHANGHAI)


def accepted_at(when: datetime, user=None, price="100.00", quantity=2) -> Order:
    user = user or buyer()
    with time_machine.travel(when, tick=False):
        (order,) = place(user, (stocked_variant(price=price), quantity))
        flows.to_accepted(order, user)
    order.refresh_from_db()
    return order


def paid_at(order: Order, when: datetime, operator) -> Order:
    with time_machine.travel(when, tick=False):
        return flows.pay_by_transfer(order, operator)


@pytest.mark.parametrize(
    ("accepted", "due"),
    [
        (at("2026-03-01", 10), "2026-03-31"),
        # 23:30 in Shanghai is still 1 March there (15:30 UTC).
        (at("2026-03-01", 23, 30), "2026-03-31"),
        # 00:30 on 2 March in Shanghai is 1 March 16:30 UTC: the Shanghai date counts.
        (at("2026-03-02", 0, 30), "2026-04-01"),
    ],
)
def test_the_due_date_is_30_days_after_the_acceptance_date_in_shanghai(db, accepted, due):
    order = accepted_at(accepted)
    assert order.payment_due_date.isoformat() == due


def test_the_term_is_a_setting(db, settings):
    settings.PAYMENT_TERM_DAYS = 60
    order = accepted_at(at("2026-03-01"))
    assert order.payment_due_date.isoformat() == "2026-04-30"


def test_paying_on_the_due_date_is_on_time(db, operator):
    order = paid_at(accepted_at(at("2026-03-01")), at("2026-03-31", 23, 59), operator)
    assert order.paid_on_time is True


def test_paying_the_day_after_the_due_date_is_late(db, operator):
    order = paid_at(accepted_at(at("2026-03-01")), at("2026-04-01", 0, 1), operator)
    assert order.paid_on_time is False


def test_an_unpaid_order_has_no_on_time_answer_yet(db):
    assert accepted_at(at("2026-03-01")).paid_on_time is None


def remind(day: str, capture):
    with capture(execute=True):
        return send_payment_reminders(today=datetime.fromisoformat(day).date())


def test_the_reminder_before_the_due_date_is_sent_once(db, django_capture_on_commit_callbacks):
    user = buyer()
    order = accepted_at(at("2026-03-01"), user)
    assert remind("2026-03-25", django_capture_on_commit_callbacks).sent == 0  # 6 days before
    first = remind("2026-03-26", django_capture_on_commit_callbacks)
    again = remind("2026-03-27", django_capture_on_commit_callbacks)
    assert (first.sent, again.sent, again.already_sent) == (1, 0, 1)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert order.number in mail.outbox[0].subject
    assert list(PaymentReminder.objects.values_list("kind", flat=True)) == ["BEFORE_DUE"]


def test_the_due_date_reminder_is_sent_once_on_the_due_date(db, django_capture_on_commit_callbacks):
    accepted_at(at("2026-03-01"))
    remind("2026-03-26", django_capture_on_commit_callbacks)
    assert remind("2026-03-31", django_capture_on_commit_callbacks).sent == 1
    assert remind("2026-03-31", django_capture_on_commit_callbacks).sent == 0
    assert sorted(PaymentReminder.objects.values_list("kind", flat=True)) == [
        PaymentReminderKind.BEFORE_DUE,
        PaymentReminderKind.ON_DUE,
    ]
    assert len(mail.outbox) == 2


def test_an_unpaid_order_gets_one_overdue_reminder_after_the_due_date(
    db, django_capture_on_commit_callbacks
):
    """The day after the due date: one overdue reminder (and `payment.overdue`), never two."""
    accepted_at(at("2026-03-01"))
    remind("2026-03-31", django_capture_on_commit_callbacks)
    assert remind("2026-04-01", django_capture_on_commit_callbacks).sent == 1
    assert remind("2026-04-05", django_capture_on_commit_callbacks).sent == 0
    assert sorted(PaymentReminder.objects.values_list("kind", flat=True)) == [
        PaymentReminderKind.ON_DUE,
        PaymentReminderKind.OVERDUE,
    ]
    assert "逾期 1 天" in mail.outbox[-1].body


def test_a_missed_run_still_sends_the_due_reminder_late(db, django_capture_on_commit_callbacks):
    accepted_at(at("2026-03-01"))
    report = remind("2026-04-03", django_capture_on_commit_callbacks)
    assert report.sent == 1
    assert "逾期 3 天" in mail.outbox[0].body


def test_a_paid_order_gets_no_reminder(db, operator, django_capture_on_commit_callbacks):
    paid_at(accepted_at(at("2026-03-01")), at("2026-03-10"), operator)
    assert remind("2026-03-31", django_capture_on_commit_callbacks).sent == 0
    assert mail.outbox == []


def test_the_command_runs_the_reminders(db, django_capture_on_commit_callbacks, capsys):
    accepted_at(at("2026-03-01"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_payment_reminders", "--today", "2026-03-31")
        call_command("send_payment_reminders", "--today", "2026-03-31")
    assert "1 reminders sent" in capsys.readouterr().out
    assert len(mail.outbox) == 1


def test_the_daily_job_sends_due_reminders_once(db, django_capture_on_commit_callbacks):
    accepted_at(at("2026-03-01"))
    with time_machine.travel(at("2026-03-31", 8), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            first = payment_reminders.call()
            again = payment_reminders.call()
    assert (first, again) == ({"sent": 1, "already_sent": 0}, {"sent": 0, "already_sent": 1})
    assert len(mail.outbox) == 1


OVERDUE = """query($f: OverduePaymentFilterInput, $first: Int, $after: String) {
  overduePayments(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { order { number paidOnTime paymentDueDate } agency { name }
      city { code name } amountOutstanding { amount } dueDate daysOverdue } } } }"""


@pytest.fixture
def overdue_world(db, operator):
    fuzhou = buyer(AgencyFactory(city=city("350100")))
    xiamen = buyer(AgencyFactory(city=city("350200")))
    orders = {
        "fuzhou_old": accepted_at(at("2026-01-05"), fuzhou, price="300.00"),
        "fuzhou_new": accepted_at(at("2026-02-20"), fuzhou, price="50.00"),
        "xiamen": accepted_at(at("2026-02-01"), xiamen, price="120.00"),
        "not_due": accepted_at(at("2026-03-20"), xiamen),
        "paid": paid_at(accepted_at(at("2026-01-02"), xiamen), at("2026-03-01"), operator),
    }
    return orders, fuzhou, xiamen


def overdue(gql, user, **variables):
    with time_machine.travel(at("2026-04-01"), tick=False):
        return gql(OVERDUE, variables, user=user)


def numbers(response) -> list[str]:
    return [e["node"]["order"]["number"] for e in response["data"]["overduePayments"]["edges"]]


def test_overdue_payments_lists_unpaid_orders_past_their_due_date_oldest_first(
    gql, overdue_world, operator
):
    orders, _fuzhou, _xiamen = overdue_world
    response = overdue(gql, operator)
    assert numbers(response) == [orders[k].number for k in ("fuzhou_old", "xiamen", "fuzhou_new")]
    first = response["data"]["overduePayments"]["edges"][0]["node"]
    assert first["dueDate"] == "2026-02-04"
    assert first["daysOverdue"] == 56
    assert first["amountOutstanding"] == {"amount": "600.00"}
    assert first["city"] == {"code": "350100", "name": "福州市"}
    assert first["order"]["paidOnTime"] is None


def test_overdue_payments_filter_by_agency_city_days_and_amount(gql, overdue_world, operator):
    orders, fuzhou, _xiamen = overdue_world
    agency = to_global_id("Agency", agency_id_of(fuzhou))
    assert numbers(overdue(gql, operator, f={"agencies": [agency]})) == [
        orders["fuzhou_old"].number,
        orders["fuzhou_new"].number,
    ]
    assert numbers(overdue(gql, operator, f={"cityCodes": ["350200"]})) == [orders["xiamen"].number]
    assert numbers(overdue(gql, operator, f={"daysOverdueMin": 29})) == [
        orders["fuzhou_old"].number,
        orders["xiamen"].number,
    ]
    assert numbers(overdue(gql, operator, f={"amountMin": "200", "amountMax": "300"})) == [
        orders["xiamen"].number
    ]


def test_overdue_payments_pages_by_keyset(gql, overdue_world, operator):
    orders, _f, _x = overdue_world
    page = overdue(gql, operator, first=2)["data"]["overduePayments"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = overdue(gql, operator, first=2, after=page["pageInfo"]["endCursor"])
    assert numbers(rest) == [orders["fuzhou_new"].number]


def test_overdue_payments_runs_a_fixed_number_of_queries(gql, overdue_world, operator):
    with CaptureQueriesContext(connection) as queries:
        overdue(gql, operator)
    fewer = len(queries)
    accepted_at(at("2026-01-10"), buyer(AgencyFactory(city=city("350300"))))
    with CaptureQueriesContext(connection) as queries:
        assert len(numbers(overdue(gql, operator))) == 4
    assert len(queries) == fewer


@pytest.mark.parametrize("bad", [{"daysOverdueMin": -1}, {"amountMin": "-5"}, {"agencies": ["x"]}])
def test_bad_overdue_filters_are_bad_user_input(gql, overdue_world, operator, bad):
    assert top_level_codes(overdue(gql, operator, f=bad)) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("role", [None, *Role])
def test_overdue_payments_is_for_operators_and_auditors(gql, overdue_world, operator, role):
    orders, fuzhou, _x = overdue_world
    users = flows.one_user_per_role(
        operator=operator, agency_user=fuzhou, supplier=orders["fuzhou_old"].supplier
    )
    response = overdue(gql, users[role] if role else None)
    if role in (Role.OPERATOR, Role.AUDITOR):
        assert len(numbers(response)) == 3
    else:
        assert top_level_codes(response) == [
            "UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"
        ]
        assert response["data"] == {"overduePayments": None}


def test_the_dashboard_shows_overdue_amounts_by_city(client, overdue_world):
    auditor = UserFactory(role=Role.AUDITOR)
    client.force_login(auditor)
    with time_machine.travel(at("2026-04-01"), tick=False):
        page = client.get("/dashboard/").content.decode()
    # 福州 600 + 100, 厦门 240; the unpaid order not yet due and the paid one are left out.
    assert f"逾期未付款：{charts.format_cny(Decimal('940.00'))}" in page
    assert "共 3 笔" in page
    chart = page.partition("逾期未付款（按福建城市）")[2]
    assert chart.index("福州市") < chart.index("厦门市")
