"""At most one sign-in per request, alone: several aliased guesses, or a guess next to a
field that fails and rolls the request back, are refused before any password is checked."""

import pytest

from shop.accounts.models import SignInThrottle
from tests.conftest import top_level_codes
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.shop.accounts.sign_in import code, graphql_sign_in

pytestmark = pytest.mark.smoke


def guess(alias: str, email: str, password: str) -> str:
    return f'{alias}: tokenCreate(email: "{email}", password: "{password}") {{ token errors {{ code }} }}'


def assert_refused_unchecked(raw, password_checks) -> None:
    assert raw.status_code == 400
    response = raw.json()
    assert top_level_codes(response) == ["BAD_USER_INPUT"]
    assert response["errors"][0]["message"] == (
        "tokenCreate must be the only mutation in its request."
    )
    assert response.get("data") is None
    assert password_checks == 0
    assert not SignInThrottle.objects.exists()


def test_two_sign_ins_in_one_request_are_refused_before_any_password_check(gql, password_checks):
    user = UserFactory()
    guesses = " ".join(guess(f"g{n}", user.email, f"guess-{n}") for n in range(4))
    response = gql.raw(f"mutation {{ {guesses} {guess('right', user.email, PASSWORD)} }}")
    assert_refused_unchecked(response, password_checks)


def test_a_sign_in_next_to_a_failing_field_is_refused(gql, password_checks):
    user = UserFactory()
    response = gql.raw(
        f"mutation {{ {guess('a', user.email, PASSWORD)}"
        ' zz: userDeactivate(id: "x") { errors { code } } }'
    )
    assert_refused_unchecked(response, password_checks)


def test_sign_ins_hidden_in_fragments_are_counted(gql, password_checks):
    user = UserFactory()
    response = gql.raw(
        f"mutation {{ ...One ... on Mutation {{ {guess('b', user.email, PASSWORD)} }} }}"
        f" fragment One on Mutation {{ {guess('a', user.email, 'wrong')} }}"
    )
    assert_refused_unchecked(response, password_checks)


def test_a_lone_sign_in_may_ask_for_typename(gql):
    user = UserFactory()
    response = gql(f"mutation {{ __typename {guess('a', user.email, PASSWORD)} }}")
    assert response["data"]["a"]["errors"] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_attempt_is_counted_in_its_own_committed_transaction(gql):
    user = UserFactory()
    assert code(graphql_sign_in(gql, user.email, "wrong")) == "INVALID_CREDENTIALS"
    # No test transaction here: what is read was committed by the request.
    counts = dict(SignInThrottle.objects.values_list("scope", "failures"))
    assert counts == {"PAIR": 1, "ACCOUNT": 1, "ADDRESS": 1}
