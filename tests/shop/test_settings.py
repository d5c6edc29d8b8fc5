import os
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
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
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
