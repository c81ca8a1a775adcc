"""The production settings as the load run serves them: gunicorn on loopback over plain HTTP, with no proxy in
front. Only what plain HTTP needs differs (cookies not marked Secure, no redirect to HTTPS, no HSTS), and the
collected static files go under ``var/load/``. Everything else — DEBUG off, PostgreSQL, Redis, the Redis cache,
WhiteNoise, the password hashers — is production's."""

from config.settings.production import *  # noqa: F403
from config.settings.production import BASE_DIR, env

SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
STATIC_ROOT = env("LOAD_STATIC_ROOT", default=str(BASE_DIR / "var" / "load" / "static"))
