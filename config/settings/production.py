"""Production: PostgreSQL, Redis, real e-mail, HTTPS. Secrets only from the environment; no defaults."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {**DATABASES, "default": env.db("DATABASE_URL")}  # noqa: F405 - and the replica, if any (base.py)
for _alias in DATABASES:
    DATABASES[_alias]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES[_alias]["CONN_HEALTH_CHECKS"] = True
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False
EMAIL_CONFIG = env.email_url("EMAIL_URL")
vars().update(EMAIL_CONFIG)

if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random value of at least 50 characters.")
SIGNING_KEY_ENCRYPTION_KEY = env("SIGNING_KEY_ENCRYPTION_KEY")
try:
    from cryptography.fernet import Fernet

    Fernet(SIGNING_KEY_ENCRYPTION_KEY.encode())
except ValueError as _error:
    raise ImproperlyConfigured(
        "SIGNING_KEY_ENCRYPTION_KEY must be a Fernet key (32 bytes, urlsafe base64).") from _error
if any(db["ENGINE"] != "django.db.backends.postgresql" for db in DATABASES.values()):
    raise ImproperlyConfigured("Production runs on PostgreSQL: set DATABASE_URL to a postgres:// URL.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": MEDIA_STORAGE,  # noqa: F405 - this host's disk, or the shared S3 bucket (base.py)
    "staticfiles": {"BACKEND": "config.storage.StaticFilesStorage"},  # WhiteNoise's, see config/storage.py
}
# Static files are served by WhiteNoise from the collected STATIC_ROOT (manage.py collectstatic).
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]  # noqa: F405

# Rate limits and other counters are shared by every web process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# The API speaks JSON only: the browsable API (DRF's HTML forms) is for development.
REST_FRAMEWORK = {**REST_FRAMEWORK,  # noqa: F405
                  "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
