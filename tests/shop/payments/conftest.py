import pytest

from shop.payments.webhooks import register_webhook_handler, unregister_webhook_handler


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
