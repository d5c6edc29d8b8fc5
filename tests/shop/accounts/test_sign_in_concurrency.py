"""Parallel guesses with real concurrent PostgreSQL connections: the count is checked and
taken under a row lock before any password is hashed, so 20 at once make 5 password checks."""

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests.conftest import GraphQLClient
from tests.factories import UserFactory
from tests.procurement.test_concurrency import run_concurrently
from tests.shop.accounts.sign_in import code, graphql_sign_in

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sign_in_concurrently(email: str, passwords: list[str], addresses: list[str]) -> list:
    """Each attempt on its own thread, database connection and HTTP client, all released at
    the same moment; the error code of each."""
    calls = [
        lambda password=password, address=address: code(
            graphql_sign_in(GraphQLClient(), email, password, REMOTE_ADDR=address)
        )
        for password, address in zip(passwords, addresses, strict=True)
    ]
    return [outcome for _ok, outcome in run_concurrently(calls)]


def test_twenty_parallel_wrong_passwords_make_at_most_five_password_checks(password_checks):
    assert connection.vendor == "postgresql"
    user = UserFactory()
    codes = sign_in_concurrently(user.email, ["wrong"] * 20, ["203.0.113.66"] * 20)
    assert sorted(codes) == ["INVALID_CREDENTIALS"] * 5 + ["LOGIN_THROTTLED"] * 15
    assert password_checks == 5


def test_parallel_guesses_from_many_addresses_are_held_to_the_account_limit(
    password_checks, settings
):
    settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES = 4
    user = UserFactory()
    addresses = [f"203.0.113.{n}" for n in range(20)]
    with time_machine.travel(timezone.now(), tick=False):  # no delay can elapse meanwhile
        codes = sign_in_concurrently(user.email, ["wrong"] * 20, addresses)
    assert sorted(codes) == ["INVALID_CREDENTIALS"] * 4 + ["LOGIN_THROTTLED"] * 16
    assert password_checks == 4
