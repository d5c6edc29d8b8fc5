import pytest

from shop.accounts.models import User
from shop.core.models import AuditEvent

REGISTER = """
mutation($email: String!, $password: String!) {
  accountRegister(email: $email, password: $password) {
    user { email role } errors { field code message }
  }
}"""

pytestmark = pytest.mark.smoke


def test_register_creates_a_consumer_and_audits_it(gql):
    payload = gql(REGISTER, {"email": "Buyer@Example.cn", "password": "Goji-Berry-2026"})
    assert payload["data"]["accountRegister"] == {
        "user": {"email": "buyer@example.cn", "role": "CONSUMER"},
        "errors": [],
    }
    user = User.objects.get(email="buyer@example.cn")
    event = AuditEvent.objects.get(action="user.register")
    assert (event.actor_id, event.object_id) == (user.pk, str(user.pk))


def test_register_refuses_weak_password_and_creates_nothing(gql):
    payload = gql(REGISTER, {"email": "a@example.cn", "password": "123"})["data"]["accountRegister"]
    codes = {(e["field"], e["code"]) for e in payload["errors"]}
    assert codes == {("password", "PASSWORD_TOO_WEAK")}
    assert len(payload["errors"]) == 3  # too short, too common, entirely numeric
    assert payload["user"] is None
    assert not User.objects.exists()
    assert not AuditEvent.objects.exists()


def test_register_refuses_duplicate_email(gql):
    gql(REGISTER, {"email": "a@example.cn", "password": "Goji-Berry-2026"})
    payload = gql(REGISTER, {"email": "A@example.cn", "password": "Goji-Berry-2026"})
    assert payload["data"]["accountRegister"]["errors"] == [
        {
            "field": "email",
            "code": "UNIQUE",
            "message": "An account with this e-mail already exists.",
        }
    ]
    assert User.objects.count() == 1


def test_register_refuses_invalid_email(gql):
    payload = gql(REGISTER, {"email": "not-an-email", "password": "Goji-Berry-2026"})
    assert payload["data"]["accountRegister"]["errors"][0]["code"] == "INVALID"
    assert not User.objects.exists()
