"""The settings profiles: the production one refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
GOOD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k3Y-for-the-deploy-check-only_9f2c1e7a4b6d8e0f2a4c6e8b0d2f4a6c8e",
    "DJANGO_ALLOWED_HOSTS": "certification.example.org",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp://mail.example.org:25",
    "SIGNING_KEY_ENCRYPTION_KEY": "ZGVwbG95LWNoZWNrLW9ubHktbm90LWEtcmVhbC1rZXk=",
    "CERTIFICATION_PUBLIC_BASE_URL": "https://certification.example.org",
}


def _production_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in GOOD_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False,
    )


def test_production_check_deploy_passes_with_its_variables():
    result = _production_check(GOOD_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL",
                                     "EMAIL_URL", "SIGNING_KEY_ENCRYPTION_KEY"])
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in GOOD_ENV.items() if k != missing}
    result = _production_check(env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_a_short_secret_key_and_sqlite():
    assert "at least 50" in _production_check({**GOOD_ENV, "DJANGO_SECRET_KEY": "short"}).stderr
    assert "at least 50" in _production_check({**GOOD_ENV, "DJANGO_SECRET_KEY": "ab" * 40}).stderr
    assert "PostgreSQL" in _production_check({**GOOD_ENV, "DATABASE_URL": "sqlite:///x.sqlite3"}).stderr


def test_production_refuses_a_key_encryption_key_that_is_not_a_fernet_key():
    result = _production_check({**GOOD_ENV, "SIGNING_KEY_ENCRYPTION_KEY": "not-a-key"})
    assert result.returncode != 0
    assert "SIGNING_KEY_ENCRYPTION_KEY must be a Fernet key" in result.stderr


def test_defaults_are_chinese_shanghai_and_late_acks():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _name in settings.LANGUAGES] == ["zh-hans", "en"]
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_beat_fires_viewflow_timers_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["fire-due-timers"]
    assert entry["task"] == "certification.fire_due_timers"
    assert entry["schedule"].minute == set(range(60))
