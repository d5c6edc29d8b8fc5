import json
import socket
import threading
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


# A fixed test key, so that every test (and the fuzz run's live server) has a configured ledger
# signing key whatever the checkout holds; tests of a missing key clear it.
TEST_LEDGER_SIGNING_KEY = "c2hhbmhhaS10ZXN0LWxlZGdlci1zaWduaW5nLWtleSE="


@pytest.fixture(autouse=True)
def ledger_signing_key(settings):
    settings.LEDGER_SIGNING_KEY = TEST_LEDGER_SIGNING_KEY


IMMEDIATE_JOBS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def jobs_run_immediately(settings):
    """Jobs run in the process that enqueues them, when its transaction commits: the suite
    expects search to be up to date after a mutation. The worker tests (tests/shop/core/
    test_jobs.py) switch to the database backend and real worker processes."""
    settings.TASKS = IMMEDIATE_JOBS
    settings.JOBS_BACKEND = "immediate"


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


def mutation_class(name: str) -> Any:
    """The BaseMutation subclass behind a root mutation field of the schema."""
    from shop.schema import schema

    return schema.graphql_schema.mutation_type.fields[name].type.graphene_type


def declared_roles(name: str) -> set:
    """The roles a mutation's declared policy lets through the access check (None stands for
    the anonymous caller)."""
    from shop.core.permissions import ANYONE

    policy = mutation_class(name).allowed_roles
    assert policy is not None, f"{name} declares no allowed_roles"
    return {None, *Role} if policy == ANYONE else set(policy)


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


def access_matrix_cell(call, *, name, role, snapshot, expected_errors=()) -> None:
    """Make the call of mutation `name` as a user of `role` (None: anonymous) and check its
    cell against the mutation's declared policy (`assert_access_outcome`), with whether
    `snapshot()` changed."""
    before = snapshot()
    response = call()
    assert_access_outcome(
        response,
        name=name,
        role=role,
        allowed=declared_roles(name),
        expected_errors=list(expected_errors),
        changed=snapshot() != before,
    )


def role_matrix_cell(call, users, role, name, snapshot) -> None:
    """`access_matrix_cell` of `call(user)` made as `users[role]` (None: anonymous)."""
    access_matrix_cell(
        lambda: call(users[role] if role else None), name=name, role=role, snapshot=snapshot
    )


def id_mutation(name: str, key: str, arg: str = "id") -> tuple:
    """A permission matrix's row for mutation `name` taking only the id `ids[key]` (as `arg`):
    the query and the function of the world's ids giving its variables."""
    return (
        f"mutation($id: ID!) {{ {name}({arg}: $id) {{ errors {{ code }} }} }}",
        lambda ids: {"id": ids[key]},
    )


def assert_outsider_not_found(gql, world, mutations, name, outsider, snapshot) -> None:
    """Mutation `name` of the table, on the world's objects, made by a user of another
    organisation: NOT_FOUND (their objects do not exist for it), and nothing changed."""
    _users, ids = world
    query, variables = mutations[name]
    before = snapshot()
    response = gql(query, variables(ids), user=outsider)
    assert [e["code"] for e in response["data"][name]["errors"]] == ["NOT_FOUND"]
    assert snapshot() == before


def mutation_matrix_cell(gql, world, mutations, name, role, snapshot, expected=None) -> None:
    """`access_matrix_cell` for a table of mutations: `mutations[name]` is the query and a
    function of the world's ids giving its variables; `world` is (users by role, ids);
    `expected` maps (name, role) to the domain errors that cell ends in."""
    users, ids = world
    query, variables = mutations[name]
    access_matrix_cell(
        lambda: gql(query, variables(ids), user=users[role] if role else None),
        name=name,
        role=role,
        snapshot=snapshot,
        expected_errors=(expected or {}).get((name, role), ()),
    )


class NetworkCallInTransaction(AssertionError):
    """A socket was opened or written to while a database transaction was open."""


class NetworkGuard:
    """Fails a test whenever a network call (payment gateway, search engine, webhook delivery,
    SMTP, anything over a Python socket) happens inside a database transaction, in any thread.

    How: `socket.socket.connect`, `connect_ex`, `send` and `sendall` are wrapped for the whole
    session (writes too, because HTTP clients keep connections alive and reuse them without
    connecting again). Each call looks at the calling thread's own database connection
    (`django.db.connection` is per thread) and its stack of open `atomic` blocks.

    The trap: pytest-django runs a non-transactional `django_db` test inside atomic blocks of
    its own (the TestCase class and test transactions), so "in an atomic block" alone would be
    true for every such test. When the test body starts (`pytest_runtest_call`, after every
    fixture is set up) the guard records the blocks open at that moment in the test's thread as
    the harness's baseline; only blocks opened later, by the code under test, count. Other
    threads (the live server, the mock's webhook deliveries) have no baseline: any open block
    counts. A thread using a connection created by another thread (the live server borrowing an
    in-memory SQLite test database) is not checked: the blocks it sees are not its own. The
    database drivers themselves (psycopg's libpq, SQLite) do not use Python sockets, so they
    never trip it. Network calls made while fixtures are set up are not
    checked.

    A violation raises `NetworkCallInTransaction` at the call (HTTP clients may swallow it and
    retry) and is also recorded; the test fails at teardown if any was recorded. A test that
    trips it on purpose reads and clears `violations`."""

    def __init__(self) -> None:
        self.active = False
        self.harness: list[Any] = []
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def arm(self) -> None:
        self.harness = list(connection.atomic_blocks)
        self.violations = []
        self.active = True

    def disarm(self) -> list[str]:
        self.active = False
        self.harness = []
        found, self.violations = self.violations, []
        return found

    def check(self, what: str, address: Any = None) -> None:
        # A connection shared across threads (the live server borrowing an in-memory SQLite
        # test database) shows another thread's blocks: nothing can be attributed there.
        if not self.active or connection._thread_ident != threading.get_ident():
            return
        own = [
            block
            for block in connection.atomic_blocks
            if not any(block is harness for harness in self.harness)
        ]
        if own:
            message = (
                f"{what}({address!r}) in thread {threading.current_thread().name} inside "
                f"{len(own)} open transaction block(s)"
            )
            with self._lock:
                self.violations.append(message)
            raise NetworkCallInTransaction(message)


NETWORK_GUARD = NetworkGuard()


def _guarded(name: str) -> Callable:
    original = getattr(socket.socket, name)

    def call(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            address = args[0] if name.startswith("connect") and args else None
            NETWORK_GUARD.check(name, address)
        return original(sock, *args, **kwargs)

    call.__wrapped__ = original  # type: ignore[attr-defined]
    return call


for _name in ("connect", "connect_ex", "send", "sendall"):
    setattr(socket.socket, _name, _guarded(_name))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    NETWORK_GUARD.arm()
    yield


@pytest.fixture(autouse=True)
def network_guard():
    """The session's NetworkGuard; the test fails if it recorded a violation."""
    yield NETWORK_GUARD
    found = NETWORK_GUARD.disarm()
    if found:
        pytest.fail("Network call inside a database transaction:\n" + "\n".join(found))
