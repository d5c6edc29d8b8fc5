import pytest

from shop.payments.mock.delivery import wait_for_deliveries
from shop.payments.webhooks import register_webhook_handler, unregister_webhook_handler


@pytest.fixture
def stripe_mock(live_server, settings, transactional_db):
    """The gateway's official SDK and the mock's webhook deliveries both go to a live server
    that serves the mock and the receiver, so every request travels over real HTTP."""
    settings.STRIPE_API_BASE = f"{live_server.url}/stripe-mock"
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{live_server.url}/webhooks/stripe/"
    yield live_server
    # No delivery may still be writing when the test database is flushed.
    wait_for_deliveries()


class RecordingHandler:
    """A real webhook handler, registered in the real registry, that keeps what it was given."""

    def __init__(self):
        self.events = []

    def __call__(self, event) -> None:
        self.events.append(event)

    @property
    def event_ids(self) -> list[str]:
        return [event["id"] for event in self.events]


@pytest.fixture
def handler_for():
    registered = []

    def register(event_type: str) -> RecordingHandler:
        handler = RecordingHandler()
        register_webhook_handler(event_type, handler)
        registered.append((event_type, handler))
        return handler

    yield register
    for event_type, handler in registered:
        unregister_webhook_handler(event_type, handler)
