import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
    "DEBUG": "false",
    "ALLOWED_HOSTS": "shanhai.example.cn",
    "DATABASE_URL": "postgres://shanhai@db.internal/shanhai",
    "STRIPE_SECRET_KEY": "sk_live_" + "y" * 40,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "z" * 32,
    # Any 32 random bytes are an Ed25519 private key (raw, base64).
    "LEDGER_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
}
MINIMAL_PRODUCTION_ENV = {"SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"], "DEBUG": "false"}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and not k.startswith(("STRIPE_", "SITE_URL", "LEDGER_SIGNING"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.smoke
def test_check_deploy_is_silent_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.smoke
def test_production_without_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


@pytest.mark.smoke
def test_no_environment_means_sqlite_and_debug():
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','shop.settings');"
        "django.setup(); from django.conf import settings as s;"
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'])"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3"], result.stderr


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"STRIPE_MOCK_ENABLED": "true"}, "(payments.E001) The Stripe mock is enabled"),
        (
            {"STRIPE_SECRET_KEY": "sk_test_shanhai_mock"},
            "(payments.E002) STRIPE_SECRET_KEY is the mock's published test key.",
        ),
        (
            {"STRIPE_WEBHOOK_SECRET": "whsec_shanhai_mock"},
            "(payments.E002) STRIPE_WEBHOOK_SECRET is the mock's published test key.",
        ),
        (
            {"STRIPE_PUBLISHABLE_KEY": "pk_test_shanhai_mock"},
            "(payments.E002) STRIPE_PUBLISHABLE_KEY is the mock's published test key.",
        ),
    ],
)
def test_check_deploy_reports_the_mock_or_a_published_key_as_an_error(extra, expected):
    result = run_manage("check", "--deploy", env={**PRODUCTION_ENV, **extra})
    assert result.returncode != 0
    assert expected in result.stderr
    assert "ERRORS:" in result.stderr


MOCK_CONFIRM_SCRIPT = """
import base64, django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
django.setup()
from django.conf import settings
from django.test import Client
key = base64.b64encode(b"sk_test_shanhai_mock:").decode()
response = Client().post(
    "/stripe-mock/v1/payment_intents/pi_known/confirm",
    "payment_method=pm_card_visa",
    content_type="application/x-www-form-urlencoded",
    secure=True,
    HTTP_HOST="shanhai.example.cn",
    HTTP_AUTHORIZATION=f"Basic {key}",
)
print(settings.STRIPE_MOCK_ENABLED, repr(settings.STRIPE_SECRET_KEY), response.status_code)
"""


@pytest.mark.smoke
def test_with_debug_off_the_mock_is_off_and_its_keys_are_not_defaults():
    """Only SECRET_KEY and DEBUG=false: /stripe-mock/ answers 404, so an outsider who knows an
    intent id cannot confirm it, and the mock's published key is not the gateway's key."""
    env = {**MINIMAL_PRODUCTION_ENV, "ALLOWED_HOSTS": "shanhai.example.cn"}
    result = run_manage("shell", "-c", MOCK_CONFIRM_SCRIPT, env=env)
    assert result.stdout.splitlines()[-1].split() == ["False", "''", "404"], result.stderr


@pytest.mark.smoke
def test_mock_addresses_follow_the_site_url():
    script = (
        "from django.conf import settings as s;print(s.STRIPE_API_BASE, s.STRIPE_MOCK_WEBHOOK_URL)"
    )
    result = run_manage(
        "shell", "-c", script, env={"SITE_URL": "http://10.0.0.5:9000/", "DEBUG": "true"}
    )
    assert result.stdout.splitlines()[-1].split() == [
        "http://10.0.0.5:9000/stripe-mock",
        "http://10.0.0.5:9000/webhooks/stripe/",
    ], result.stderr


def settings_value(expression: str, env: dict[str, str]) -> str:
    result = run_manage(
        "shell", "-c", f"from django.conf import settings; print({expression})", env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.smoke
def test_production_keeps_database_connections_with_health_checks():
    value = settings_value(
        "settings.DATABASES['default']['CONN_MAX_AGE'], "
        "settings.DATABASES['default']['CONN_HEALTH_CHECKS']",
        PRODUCTION_ENV,
    )
    assert value == "60 True"
