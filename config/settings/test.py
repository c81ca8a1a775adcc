"""The test suite: PostgreSQL and Redis by default (DATABASE_URL may point to SQLite for the smoke run)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - tests only
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default="postgres://certification:certification@127.0.0.1:5432/certification"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
    # A file, not memory, so that a worker thread sees the test's data; named after DATABASE_URL's file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATABASES["default"]["NAME"]).removesuffix(".sqlite3") + "-test.sqlite3"}
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = str(BASE_DIR / "var" / "test-media")  # noqa: F405
