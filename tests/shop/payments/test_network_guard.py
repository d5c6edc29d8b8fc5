"""The suite-wide guard (tests/conftest.py, NetworkGuard): no network call inside a database
transaction, in any thread."""

import threading
import urllib.request
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from shop.payments import gateway
from shop.payments.errors import GatewayError
from tests.conftest import NetworkCallInTransaction


def fetch(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return response.status


def test_guard_trips_on_a_call_inside_transaction_atomic(stripe_mock, network_guard):
    with transaction.atomic(), pytest.raises(NetworkCallInTransaction):
        fetch(f"{stripe_mock.url}/graphql/?query=%7B__typename%7D")
    assert len(network_guard.violations) == 1
    assert "inside 1 open transaction block" in network_guard.violations[0]
    network_guard.violations.clear()


def test_guard_catches_the_gateway_called_in_a_transaction(stripe_mock, network_guard):
    """What payment_create did before it was split in steps: the SDK turns the refusal into a
    connection error (retried, then GATEWAY_UNAVAILABLE), but the violation is recorded."""
    with transaction.atomic(), pytest.raises(GatewayError):
        gateway.create_payment_intent(
            amount=Decimal("10.00"), order_reference="SH-1", idempotency_key="guard-1"
        )
    assert network_guard.violations
    network_guard.violations.clear()


def test_calls_outside_a_transaction_pass(stripe_mock, network_guard):
    assert fetch(f"{stripe_mock.url}/graphql/?query=%7B__typename%7D") == 200
    with transaction.atomic():
        pass
    assert fetch(f"{stripe_mock.url}/graphql/?query=%7B__typename%7D") == 200
    assert network_guard.violations == []


@pytest.fixture
def plain_server():
    """A plain HTTP server (no Django), so the test can stay a non-transactional one."""

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_the_test_case_transaction_is_the_baseline_not_a_violation(plain_server, network_guard):
    """A non-transactional django_db test runs inside pytest-django's own atomic blocks."""
    assert transaction.get_connection().in_atomic_block
    assert fetch(plain_server) == 200
    with transaction.atomic(), pytest.raises(NetworkCallInTransaction):
        fetch(plain_server)
    network_guard.violations.clear()
