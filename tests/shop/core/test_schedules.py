"""When a periodic job is next due: Asia/Shanghai wall-clock times (no daylight saving)."""

from datetime import UTC, datetime, timedelta

from django.utils.module_loading import import_string
from django_tasks.base import Task

from shop.core.jobs import Schedule
from shop.schedules import SCHEDULES

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_an_hourly_schedule_is_due_on_the_next_hour():
    hourly = Schedule("h", "x.y", every=HOUR)
    assert hourly.next_after(utc(2026, 3, 1, 9, 15)) == utc(2026, 3, 1, 10, 0)
    assert hourly.next_after(utc(2026, 3, 1, 10, 0)) == utc(2026, 3, 1, 11, 0)


def test_the_day_end_checkpoint_is_midnight_in_shanghai():
    checkpoint = next(s for s in SCHEDULES if s.name == "ledger_checkpoint")
    # 23:30 in Shanghai is 15:30 UTC; the next run is 00:00 Shanghai, 16:00 UTC
    assert checkpoint.next_after(utc(2026, 3, 1, 15, 30)) == utc(2026, 3, 1, 16, 0)


def test_a_daily_schedule_is_due_at_its_local_time_today_or_tomorrow():
    nightly = Schedule("n", "x.y", every=DAY, at=timedelta(minutes=20))
    # 00:10 Shanghai (16:10 UTC the day before): 00:20 the same Shanghai day
    assert nightly.next_after(utc(2026, 3, 1, 16, 10)) == utc(2026, 3, 1, 16, 20)
    # 08:00 Shanghai: 00:20 the next Shanghai day
    assert nightly.next_after(utc(2026, 3, 2, 0, 0)) == utc(2026, 3, 2, 16, 20)


def test_every_periodic_job_has_a_schedule():
    assert {s.name for s in SCHEDULES} == {
        "catalog_rules",
        "search_sync",
        "stripe_mock_deliver_events",
        "ledger_verify",
        "ledger_reconcile",
        "ledger_checkpoint",
        "ledger_rollups_fold",
        "payments_reconcile",
        "sign_in_throttle_prune",
        "payment_reminders",
        "webhooks_deliver_due",
    }


def test_payment_reminders_go_out_daily_at_eight_in_shanghai():
    reminders = next(s for s in SCHEDULES if s.name == "payment_reminders")
    # 07:00 Shanghai is 23:00 UTC the day before; 08:00 Shanghai is 00:00 UTC
    assert reminders.next_after(utc(2026, 3, 1, 23, 0)) == utc(2026, 3, 2, 0, 0)
    assert reminders.next_after(utc(2026, 3, 2, 0, 0)) == utc(2026, 3, 3, 0, 0)


def test_every_schedule_names_a_job():
    for schedule in SCHEDULES:
        assert isinstance(import_string(schedule.task_path), Task), schedule.name
