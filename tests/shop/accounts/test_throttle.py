from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from shop.accounts.models import FailedLogin
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.shop.accounts.test_tokens import sign_in

pytestmark = pytest.mark.smoke


def test_sixth_attempt_after_five_wrong_passwords_is_throttled_even_if_right(gql):
    user = UserFactory()
    codes = [sign_in(gql, user.email, "wrong")["errors"][0]["code"] for _ in range(5)]
    assert codes == ["INVALID_CREDENTIALS"] * 5
    payload = sign_in(gql, user.email, PASSWORD)
    assert payload["token"] is None
    assert payload["errors"][0]["code"] == "LOGIN_THROTTLED"
    assert "Too many failed sign-in attempts" in payload["errors"][0]["message"]


def test_throttle_lifts_after_the_window(gql):
    user = UserFactory()
    for _ in range(5):
        sign_in(gql, user.email, "wrong")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert sign_in(gql, user.email)["errors"] == []


def test_success_clears_earlier_failures(gql):
    user = UserFactory()
    for _ in range(4):
        sign_in(gql, user.email, "wrong")
    assert sign_in(gql, user.email)["errors"] == []
    assert FailedLogin.objects.filter(email=user.email).count() == 0


def test_one_address_guessing_many_accounts_is_throttled(gql, settings):
    settings.LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS = 3
    victims = UserFactory.create_batch(4)
    for victim in victims[:3]:
        assert sign_in(gql, victim.email, "wrong")["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert sign_in(gql, victims[3].email)["errors"][0]["code"] == "LOGIN_THROTTLED"


def test_unknown_email_failures_are_counted_too(gql):
    for _ in range(5):
        sign_in(gql, "nobody@example.cn", "x")
    assert sign_in(gql, "nobody@example.cn", "x")["errors"][0]["code"] == "LOGIN_THROTTLED"
