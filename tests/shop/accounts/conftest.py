import threading

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher


class CountingHasher(MD5PasswordHasher):
    """A real (fast) hasher that counts how often a password is checked: sign-in tests count
    password checks instead of timing them."""

    algorithm = "counting_md5"
    checks = 0
    _lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher._lock:
            CountingHasher.checks += 1
        return super().verify(password, encoded)


class PasswordChecks:
    def __int__(self) -> int:
        return CountingHasher.checks

    def __eq__(self, other: object) -> bool:
        return CountingHasher.checks == other

    def __repr__(self) -> str:
        return f"{CountingHasher.checks} password checks"


@pytest.fixture
def password_checks(settings) -> PasswordChecks:
    """Counts password checks; request it before creating users (their hashes use it)."""
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.checks = 0
    return PasswordChecks()
