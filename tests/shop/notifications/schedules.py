"""The worker test's schedule: the due-deliveries job every second instead of every minute."""

from datetime import timedelta

from shop.core.jobs import Schedule

SCHEDULES = [
    Schedule(
        "webhooks_deliver_due",
        "shop.notifications.jobs.webhooks_deliver_due",
        every=timedelta(seconds=1),
    )
]
