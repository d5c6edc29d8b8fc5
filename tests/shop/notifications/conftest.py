import pytest

from tests.shop.notifications.receiver import Receiver


@pytest.fixture(autouse=True)
def local_webhooks(settings):
    """The receiver runs on this machine, over plain http: allowed here, refused by default
    in production (tests of the guard turn these off again)."""
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()
