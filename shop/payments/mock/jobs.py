"""The Stripe mock's webhook deliveries, retried like Stripe does (every minute, only while the
mock is enabled). Idempotent: an event is sent until delivered, and the receiver ignores an
event id it has already handled."""

from shop.core.jobs import job
from shop.payments.mock.delivery import deliver_pending


@job(max_attempts=1)
def stripe_mock_deliver_events() -> dict[str, int]:
    delivered, failed = deliver_pending()
    return {"delivered": delivered, "failed": failed}
