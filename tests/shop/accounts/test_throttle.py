"""Sign-in throttling through tokenCreate: a guesser is stopped, the owner is not."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from shop.accounts.models import SignInThrottle
from tests.factories import UserFactory
from tests.shop.accounts.sign_in import code, graphql_sign_in

pytestmark = pytest.mark.smoke

STRANGER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


def test_five_wrong_passwords_stop_that_address_even_with_the_right_one(gql, password_checks):
    user = UserFactory()
    codes = [code(graphql_sign_in(gql, user.email, "wrong", **STRANGER)) for _ in range(5)]
    assert codes == ["INVALID_CREDENTIALS"] * 5
    payload = graphql_sign_in(gql, user.email, **STRANGER)
    assert payload["token"] is None
    assert code(payload) == "LOGIN_THROTTLED"
    assert payload["errors"][0]["message"] == (
        "Too many failed sign-in attempts. Try again in 15 minutes."
    )
    assert password_checks == 5  # the refused attempt never reached the hasher


def test_the_owner_signs_in_from_another_address_after_a_strangers_failures(gql):
    user = UserFactory()
    for _ in range(8):
        graphql_sign_in(gql, user.email, "wrong", **STRANGER)
    payload = graphql_sign_in(gql, user.email, **OWNER)
    assert payload["errors"] == []
    assert payload["token"]


def test_throttle_lifts_after_the_window(gql):
    user = UserFactory()
    for _ in range(5):
        graphql_sign_in(gql, user.email, "wrong", **STRANGER)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert graphql_sign_in(gql, user.email, **STRANGER)["errors"] == []


def test_success_clears_the_failures_of_its_address(gql):
    user = UserFactory()
    for _ in range(4):
        graphql_sign_in(gql, user.email, "wrong", **OWNER)
    assert graphql_sign_in(gql, user.email, **OWNER)["errors"] == []
    pair = SignInThrottle.objects.get(scope="PAIR", email=user.email)
    assert pair.failures == 0
    codes = [code(graphql_sign_in(gql, user.email, "wrong", **OWNER)) for _ in range(5)]
    assert codes == ["INVALID_CREDENTIALS"] * 5


def test_one_address_guessing_many_accounts_is_throttled(gql, settings):
    settings.LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS = 3
    victims = UserFactory.create_batch(4)
    for victim in victims[:3]:
        assert code(graphql_sign_in(gql, victim.email, "wrong", **STRANGER)) == (
            "INVALID_CREDENTIALS"
        )
    assert code(graphql_sign_in(gql, victims[3].email, **STRANGER)) == "LOGIN_THROTTLED"
    assert graphql_sign_in(gql, victims[3].email, **OWNER)["errors"] == []


def test_unknown_email_failures_are_counted_too(gql):
    for _ in range(5):
        graphql_sign_in(gql, "nobody@example.cn", "x", **STRANGER)
    assert code(graphql_sign_in(gql, "nobody@example.cn", "x", **STRANGER)) == "LOGIN_THROTTLED"


def test_guesses_from_many_addresses_wait_a_growing_delay_not_a_lock(gql, settings):
    settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES = 3
    user = UserFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for n in range(3):
            graphql_sign_in(gql, user.email, "wrong", REMOTE_ADDR=f"203.0.113.{n}")
        refused = graphql_sign_in(gql, user.email, "wrong", REMOTE_ADDR="203.0.113.9")
        assert refused["errors"][0]["code"] == "LOGIN_THROTTLED"
        assert refused["errors"][0]["message"].endswith("Try again in 1 second.")
        clock.shift(timedelta(seconds=1))
        assert code(graphql_sign_in(gql, user.email, "wrong", REMOTE_ADDR="203.0.113.9")) == (
            "INVALID_CREDENTIALS"
        )
        # The next failure doubles the delay.
        clock.shift(timedelta(seconds=1))
        assert code(graphql_sign_in(gql, user.email, **OWNER)) == "LOGIN_THROTTLED"
        clock.shift(timedelta(seconds=1))
        assert graphql_sign_in(gql, user.email, **OWNER)["errors"] == []


def test_the_account_wide_delay_caps_at_its_maximum(gql, settings):
    settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES = 1
    user = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(12):
            graphql_sign_in(gql, user.email, "wrong", REMOTE_ADDR=f"203.0.113.{n}")
            clock.shift(timedelta(minutes=1))
        assert graphql_sign_in(gql, user.email, **OWNER)["errors"] == []


def test_an_address_the_owner_signed_in_from_skips_the_account_wide_delay(gql, settings):
    settings.LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES = 3
    user = UserFactory()
    assert graphql_sign_in(gql, user.email, **OWNER)["errors"] == []
    with time_machine.travel(timezone.now(), tick=False):
        for n in range(6):
            graphql_sign_in(gql, user.email, "wrong", REMOTE_ADDR=f"203.0.113.{n}")
        assert code(graphql_sign_in(gql, user.email, **STRANGER)) == "LOGIN_THROTTLED"
        assert graphql_sign_in(gql, user.email, **OWNER)["errors"] == []


def test_pruning_keeps_what_still_throttles_and_known_addresses(gql):
    user = UserFactory()
    graphql_sign_in(gql, user.email, **OWNER)
    graphql_sign_in(gql, "nobody@example.cn", "wrong", **STRANGER)
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        graphql_sign_in(gql, user.email, "wrong", **STRANGER)
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        call_command("sign_in_throttle_prune", stdout=StringIO())
    left = set(SignInThrottle.objects.values_list("scope", "email", "address"))
    assert left == {
        ("PAIR", user.email, OWNER["REMOTE_ADDR"]),  # a known address
        ("PAIR", user.email, STRANGER["REMOTE_ADDR"]),  # failed 10 minutes before
        ("ACCOUNT", user.email, ""),
        ("ADDRESS", "", STRANGER["REMOTE_ADDR"]),
    }
