"""Throttling counts the real client address: X-Forwarded-For only from a trusted proxy."""

import pytest

from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.shop.accounts.sign_in import code, graphql_sign_in

pytestmark = pytest.mark.smoke

PROXY = "10.0.0.5"


def through(gql, user, remote: str, forwarded_for: str, password: str = PASSWORD) -> str | None:
    """The error code of a sign-in from `remote` carrying `X-Forwarded-For: forwarded_for`."""
    payload = graphql_sign_in(
        gql, user.email, password, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded_for
    )
    return code(payload)


def test_a_clients_own_forwarded_for_is_ignored(gql):
    user = UserFactory()
    for n in range(5):
        through(gql, user, "203.0.113.66", f"192.0.2.{n}", "wrong")
    assert through(gql, user, "203.0.113.66", "192.0.2.200") == "LOGIN_THROTTLED"


def test_behind_a_trusted_proxy_the_owner_is_told_apart_from_the_stranger(gql, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    user = UserFactory()
    for _ in range(5):
        through(gql, user, PROXY, "203.0.113.66", "wrong")
    assert through(gql, user, PROXY, "203.0.113.66") == "LOGIN_THROTTLED"
    assert through(gql, user, PROXY, "198.51.100.20") is None


def test_what_the_client_wrote_before_the_proxy_cannot_change_its_address(gql, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    user = UserFactory()
    for n in range(5):
        through(gql, user, PROXY, f"192.0.2.{n}, 203.0.113.66", "wrong")
    assert through(gql, user, PROXY, "192.0.2.99, 203.0.113.66") == "LOGIN_THROTTLED"


def test_one_ipv6_subscriber_block_counts_as_one_address(gql):
    user = UserFactory()
    for n in range(5):
        graphql_sign_in(gql, user.email, "wrong", REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}")
    assert code(graphql_sign_in(gql, user.email, REMOTE_ADDR="2001:db8:1:2::ff")) == (
        "LOGIN_THROTTLED"
    )
    assert graphql_sign_in(gql, user.email, REMOTE_ADDR="2001:db8:1:3::1")["errors"] == []
