"""Every door checks passwords through one throttled service: tokenCreate, /admin/login/ and
/dashboard/login/ share one count, and an unknown e-mail costs what a known one does."""

import pytest

from shop.accounts.models import Role, SignInThrottle
from tests.factories import UserFactory
from tests.shop.accounts.sign_in import TOKEN_CREATE, code, form_sign_in, graphql_sign_in

pytestmark = pytest.mark.smoke

STRANGER = {"REMOTE_ADDR": "203.0.113.66"}


def test_admin_login_stops_a_guesser_after_five_failures(db, password_checks):
    operator = UserFactory(role=Role.OPERATOR, is_staff=True)
    outcomes = [
        form_sign_in("/admin/login/", operator.email, f"wrong-{n}", **STRANGER)[1] for n in range(5)
    ]
    assert outcomes == ["refused"] * 5
    client, outcome = form_sign_in("/admin/login/", operator.email, **STRANGER)
    assert outcome == "throttled"
    assert client.get("/admin/").status_code == 302  # not signed in
    assert password_checks == 5


def test_admin_login_still_signs_the_operator_in(db):
    operator = UserFactory(role=Role.OPERATOR, is_staff=True)
    client, outcome = form_sign_in("/admin/login/", operator.email)
    assert outcome == "signed in"
    assert client.get("/admin/").status_code == 200


def test_admin_login_refuses_a_right_password_of_a_non_staff_account(db):
    user = UserFactory(role=Role.CONSUMER)
    client, outcome = form_sign_in("/admin/login/", user.email)
    assert outcome == "refused"
    assert client.get("/admin/").status_code == 302


def test_the_three_doors_share_one_count(gql):
    auditor = UserFactory(role=Role.AUDITOR, is_staff=True)
    assert code(graphql_sign_in(gql, auditor.email, "wrong", **STRANGER)) == "INVALID_CREDENTIALS"
    assert code(graphql_sign_in(gql, auditor.email, "wrong", **STRANGER)) == "INVALID_CREDENTIALS"
    for _ in range(2):
        assert form_sign_in("/admin/login/", auditor.email, "wrong", **STRANGER)[1] == "refused"
    assert form_sign_in("/dashboard/login/", auditor.email, "wrong", **STRANGER)[1] == "refused"
    assert form_sign_in("/dashboard/login/", auditor.email, **STRANGER)[1] == "throttled"
    assert form_sign_in("/admin/login/", auditor.email, **STRANGER)[1] == "throttled"
    assert code(graphql_sign_in(gql, auditor.email, **STRANGER)) == "LOGIN_THROTTLED"


@pytest.mark.parametrize(
    "account",
    [
        pytest.param(None, id="unknown e-mail"),
        pytest.param({"is_active": True}, id="known e-mail"),
        pytest.param({"is_active": False}, id="inactive account"),
    ],
)
def test_every_wrong_sign_in_costs_one_password_check(gql, password_checks, account):
    email = UserFactory(**account).email if account else "nobody@example.cn"
    payload = graphql_sign_in(gql, email, "wrong")
    assert code(payload) == "INVALID_CREDENTIALS"
    assert password_checks == 1


def test_an_unknown_email_costs_one_password_check_at_the_dashboard(db, password_checks):
    assert form_sign_in("/dashboard/login/", "nobody@example.cn", "wrong")[1] == "refused"
    assert password_checks == 1


def test_an_email_longer_than_its_column_is_a_wrong_sign_in(gql, password_checks):
    assert code(graphql_sign_in(gql, "a" * 3000 + "@example.cn")) == "INVALID_CREDENTIALS"
    assert password_checks == 1


def test_an_email_with_a_nul_is_refused_before_any_password_check(gql, password_checks):
    UserFactory(email="nul@example.cn")
    response = gql(TOKEN_CREATE, {"email": "nul\x00@example.cn", "password": "wrong"})
    assert response["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert password_checks == 0
    assert not SignInThrottle.objects.exists()
