"""The test suite: PostgreSQL and Redis by default (DATABASE_URL may point to SQLite for the smoke run)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - tests only
SIGNING_KEY_ENCRYPTION_KEY = "dGVzdC1rZXktZW5jcnlwdGlvbi1ub3Qtc2VjcmV0ISE="  # noqa: S105 - tests only
CERTIFICATION_TSA_URL = ""
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

# N+1 detection (django-zeal): every request of the test suite runs in a zeal context, and a relation loaded
# row by row (the same relation, from the same line, twice or more) fails the test with the line to fix.
INSTALLED_APPS = [*INSTALLED_APPS, "zeal"]  # noqa: F405
MIDDLEWARE = ["zeal.middleware.zeal_middleware", *MIDDLEWARE]  # noqa: F405
ZEAL_RAISE = True
ZEAL_SHOW_ALL_CALLERS = False
# Explicit reads by primary key that repeat by design, a bounded number of times per request (never per row
# of a list): every lazy relation load of every model stays checked.
ZEAL_ALLOWLIST = [
    # django-celery-beat marks its schedule changed (PeriodicTasks.changed) on each save, by design.
    {"model": "django_celery_beat.PeriodicTasks", "field": "get()"},
    # The audit chain's head is locked once per entry appended (certification.services.audit).
    {"model": "certification.AuditHead", "field": "get()"},
    # Each node of the flow reads the case as the node before it left it (workflows.flows._case).
    {"model": "certification.Case", "field": "get()"},
    # The bureau at each level above an institution (assessing, forwarding, filing: three at most).
    {"model": "certification.Bureau", "field": "get()"},
    # A document not yet drawn is drawn on its first download, each read afresh (the case file: seven at most).
    {"model": "certification.IssuedDocument", "field": "get()"},
    # A session whose user signed out everywhere (or changed password) is read, then deleted by Django's flush.
    {"model": "sessions.Session", "field": "get()"},
    # Viewflow's own engine walks its tasks' processes and links as it creates and joins them; the task lists
    # of this product are held to a constant number of queries by tests/workflows/test_scale.py.
    {"model": "viewflow.*"},
]

# Sessions never end by idleness or age in the suite: its tests move the clock by days with one signed-in
# client. The tests of the session policy turn it on (tests/workflows/test_signin_security.py).
CERTIFICATION_SESSION_IDLE_MINUTES = 0
CERTIFICATION_SESSION_MAX_HOURS = 0
SESSION_COOKIE_AGE = 14 * 24 * 60 * 60
