"""The periodic jobs, which cron used to run: fired by `manage.py worker` processes (one due
time fires one job however many workers run; docs/operations.md "Background work"). Times are
Asia/Shanghai (TIME_ZONE): `at` is past local midnight, then every `every`."""

from datetime import timedelta

from shop.core.jobs import Schedule

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

SCHEDULES = [
    Schedule("search_sync", "search.jobs.search_sync", every=MINUTE),
    Schedule("catalog_rules", "catalog.jobs.catalog_rules", every=5 * MINUTE),
    # Webhook retries, and deliveries whose queued run was lost (docs/notifications.md).
    Schedule("webhooks_deliver_due", "shop.notifications.jobs.webhooks_deliver_due", every=MINUTE),
    Schedule("payments_reconcile", "procurement.jobs.payments_reconcile", every=5 * MINUTE),
    Schedule(
        "stripe_mock_deliver_events",
        "shop.payments.mock.jobs.stripe_mock_deliver_events",
        every=MINUTE,
        only_if_setting="STRIPE_MOCK_ENABLED",
    ),
    # The rollups of what was booked since the last fold (procurement/reports/rollups.py).
    Schedule("ledger_rollups_fold", "procurement.jobs.ledger_rollups_fold", every=10 * SECOND),
    # On the hour, so 00:00 Asia/Shanghai is the day's closing checkpoint (docs/ledger.md).
    Schedule("ledger_checkpoint", "procurement.jobs.ledger_checkpoint", every=HOUR),
    # Nightly, after the day's closing checkpoint.
    Schedule("ledger_verify", "procurement.jobs.ledger_verify", every=DAY, at=20 * MINUTE),
    Schedule("ledger_reconcile", "procurement.jobs.ledger_reconcile", every=DAY, at=40 * MINUTE),
    # In the morning, when buyers read their mail; dates are Asia/Shanghai business dates.
    Schedule("payment_reminders", "procurement.jobs.payment_reminders", every=DAY, at=8 * HOUR),
    Schedule(
        "sign_in_throttle_prune",
        "shop.accounts.jobs.sign_in_throttle_prune",
        every=DAY,
        at=3 * HOUR,
    ),
]
