from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from shop.accounts.models import Role
from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.shop.accounts.sign_in import TOKEN_CREATE

ME = "{ me { email role } }"
REFRESH = """
mutation($t: String!) { tokenRefresh(refreshToken: $t) { token errors { field code message } } }"""
VERIFY = """
mutation($t: String!) { tokenVerify(token: $t) { isValid user { email } errors { code } } }"""

pytestmark = pytest.mark.smoke


def sign_in(gql, email, password=PASSWORD):
    return gql(TOKEN_CREATE, {"email": email, "password": password})["data"]["tokenCreate"]


def test_me_is_null_when_anonymous(gql):
    assert gql(ME) == {"data": {"me": None}}


def test_token_create_returns_a_token_that_signs_in(gql):
    user = UserFactory(role=Role.OPERATOR)
    payload = sign_in(gql, user.email.upper())  # e-mail matching ignores case
    assert payload["errors"] == []
    assert payload["user"] == {"email": user.email, "role": "OPERATOR"}
    assert gql(ME, token=payload["token"]) == {
        "data": {"me": {"email": user.email, "role": "OPERATOR"}}
    }


def test_token_create_refuses_a_wrong_password(gql):
    user = UserFactory()
    payload = sign_in(gql, user.email, "wrong-password")
    assert payload["token"] is None
    assert payload["errors"] == [
        {
            "field": None,
            "code": "INVALID_CREDENTIALS",
            "message": "The e-mail or password is wrong, or the account is inactive.",
        }
    ]


def test_inactive_user_cannot_sign_in(gql):
    user = UserFactory(is_active=False)
    assert sign_in(gql, user.email)["errors"][0]["code"] == "INVALID_CREDENTIALS"


def test_expired_access_token_is_refused_with_unauthenticated(gql):
    user = UserFactory()
    token = sign_in(gql, user.email)["token"]
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = gql.raw(ME, token=token)
    assert response.status_code == 401
    assert top_level_codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.json()["errors"][0]["message"] == "The token has expired."


def test_forged_token_is_refused(gql):
    user = UserFactory()
    token = sign_in(gql, user.email)["token"]
    head, body, _signature = token.split(".")
    response = gql.raw(ME, token=f"{head}.{body}.AAAA")
    assert response.status_code == 401
    assert top_level_codes(response.json()) == ["UNAUTHENTICATED"]


def test_token_of_deactivated_user_stops_working(gql):
    user = UserFactory()
    token = sign_in(gql, user.email)["token"]
    user.is_active = False
    user.save()
    assert top_level_codes(gql(ME, token=token)) == ["UNAUTHENTICATED"]


def test_refresh_gives_a_new_access_token_after_the_old_one_expired(gql):
    user = UserFactory()
    refresh = sign_in(gql, user.email)["refreshToken"]
    with time_machine.travel(timezone.now() + timedelta(days=6)):
        payload = gql(REFRESH, {"t": refresh})["data"]["tokenRefresh"]
        assert payload["errors"] == []
        assert gql(ME, token=payload["token"])["data"]["me"]["email"] == user.email


def test_refresh_token_expires(gql):
    user = UserFactory()
    refresh = sign_in(gql, user.email)["refreshToken"]
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        payload = gql(REFRESH, {"t": refresh})["data"]["tokenRefresh"]
    assert payload["token"] is None
    assert payload["errors"] == [
        {"field": "token", "code": "INVALID_TOKEN", "message": "The token has expired."}
    ]


def test_access_token_cannot_be_used_as_refresh_token(gql):
    user = UserFactory()
    access = sign_in(gql, user.email)["token"]
    payload = gql(REFRESH, {"t": access})["data"]["tokenRefresh"]
    assert payload["errors"][0]["code"] == "INVALID_TOKEN"


def test_refresh_token_cannot_be_used_as_bearer(gql):
    user = UserFactory()
    refresh = sign_in(gql, user.email)["refreshToken"]
    assert top_level_codes(gql(ME, token=refresh)) == ["UNAUTHENTICATED"]


def test_verify_accepts_valid_and_rejects_garbage(gql):
    user = UserFactory()
    access = sign_in(gql, user.email)["token"]
    assert gql(VERIFY, {"t": access})["data"]["tokenVerify"] == {
        "isValid": True,
        "user": {"email": user.email},
        "errors": [],
    }
    assert gql(VERIFY, {"t": "not-a-jwt"})["data"]["tokenVerify"] == {
        "isValid": False,
        "user": None,
        "errors": [{"code": "INVALID_TOKEN"}],
    }
