import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from tests.factories import UserFactory


class GraphQLClient:
    """Posts to the real /graphql/ endpoint, optionally as a signed-in user."""

    def __init__(self):
        self.http = Client()

    def raw(self, query: str, variables: dict | None = None, *, user=None, token=None, **extra):
        headers = {}
        if user is not None:
            token = create_access_token(user)
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": variables or {}})
        return self.http.post(
            "/graphql/", body, content_type="application/json", **headers, **extra
        )

    def __call__(self, query: str, variables: dict | None = None, **kwargs) -> dict[str, Any]:
        return self.raw(query, variables, **kwargs).json()


@pytest.fixture(autouse=True)
def empty_response_cache():
    """Tests that flush the database (transactional_db) restart the catalog version from zero:
    an answer cached by an earlier test must not meet an equal version of other data."""
    yield
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def gql(db) -> GraphQLClient:
    return GraphQLClient()


@pytest.fixture
def user_with_role() -> Callable[[str], Any]:
    def make(role: str, **fields):
        return UserFactory(role=role, **fields)

    return make


@pytest.fixture
def operator(db):
    return UserFactory(role=Role.OPERATOR, is_staff=True)


def top_level_codes(response: dict) -> list[str]:
    return [error["extensions"]["code"] for error in response.get("errors", [])]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production hashing is slow by design; tests only need it to be a real hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"


@pytest.fixture
def stripe_mock(django_db_serialized_rollback, live_server, settings, transactional_db):
    """The gateway's official SDK and the mock's webhook deliveries both go to a live server
    that serves the mock and the receiver, so every request travels over real HTTP."""
    from shop.payments.mock.delivery import wait_for_deliveries

    settings.STRIPE_API_BASE = f"{live_server.url}/stripe-mock"
    settings.STRIPE_MOCK_WEBHOOK_URL = f"{live_server.url}/webhooks/stripe/"
    yield live_server
    # No delivery may still be writing when the test database is flushed.
    wait_for_deliveries()


def assert_access_outcome(response, *, name, role, allowed, expected_errors, changed: bool) -> None:
    """One cell of a role × mutation matrix. An allowed role gets through the access check and
    the service decides (its domain errors, if any, are `expected_errors`; a change happened
    exactly when there were none). Anyone else gets the top-level access error and nothing
    changed."""
    if role in allowed:
        assert "errors" not in response, response
        codes = [e["code"] for e in response["data"][name]["errors"]]
        assert codes == expected_errors
        assert changed == (codes == [])
    else:
        assert top_level_codes(response) == [
            "UNAUTHENTICATED" if role is None else "PERMISSION_DENIED"
        ]
        assert response["data"] == {name: None}
        assert not changed
