"""Settings shared by every profile. Everything configurable comes from the environment (django-environ)."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The site's public address (scheme and host, e.g. https://dangan.example.gov.cn): the certificate's QR code
# and the links in e-mails point there. The deploy check (manage.py check --deploy) requires an https one.
CERTIFICATION_PUBLIC_BASE_URL = env("CERTIFICATION_PUBLIC_BASE_URL", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "guardian",
    "django_celery_beat",
    "viewflow",
    "viewflow.workflow",
    "rest_framework",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from our own static files (no CDN)
    "crispy_forms",  # forms rendered with Bootstrap 5's markup (crispy-bootstrap5)
    "crispy_bootstrap5",
    "django_tables2",  # lists that sort and page, rendered with Bootstrap 5's markup
    "certification",
    "workflows",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a second factor
    "csp.middleware.CSPMiddleware",  # the Content-Security-Policy below, on every response
    "config.middleware.NoStoreMiddleware",  # signed-in pages and the API are never cached
    "notifications.language.UserLanguageMiddleware",  # the signed-in user's own language
    "django.contrib.messages.middleware.MessageMiddleware",
    "workflows.security.SessionPolicyMiddleware",  # idle timeout and maximum age of a session
    "workflows.security.TwoFactorMiddleware",  # privileged users enrol and verify before any page
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # a locked-out sign-in answers the lockout page (or JSON for the API)
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
# The embedded default is SQLite under var/; production sets DATABASE_URL to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once when the worker, beat and web write together.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# A streaming replica (optional): only reads marked .using(config.db_router.read_replica()) go to it.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and object permissions --------------------------------------------------------------
AUTH_USER_MODEL = "certification.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address before any check
    "certification.backends.UserBackend",  # Django's ModelBackend; its user knows if a role needs 2FA
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None  # no anonymous user row: the public site needs no object permission
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # GB/T 22239-2019 (等保 2.0) identification and authentication: complexity and no reuse of recent ones.
    {"NAME": "certification.passwords.ComplexityValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "certification.passwords.HistoryValidator",
     "OPTIONS": {"remember": env.int("CERTIFICATION_PASSWORD_HISTORY", default=5)}},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# --- Sign-in security (等保 2.0): lockout, second factor, sessions, API tokens (README, "Sign-in security") --
# Lockout (django-axes): after AXES_FAILURE_LIMIT failures in a row, the account and the address are each
# refused for the cool-off, on every sign-in form (pages, admin, API token); an administrator may unlock.
AXES_FAILURE_LIMIT = env.int("CERTIFICATION_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CERTIFICATION_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: one account, or one address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "workflows.security.lockout_response"
AXES_ENABLE_ADMIN = False  # its admin deletes rows unaudited; certification.admin offers an audited unlock
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no banner on every start of a command; failures and lockouts are still logged
# The address counted: REMOTE_ADDR, or, behind this many reverse proxies that each append to X-Forwarded-For,
# the address the outermost proxy saw (without it, every client would share the proxy's address).
CERTIFICATION_PROXY_COUNT = env.int("CERTIFICATION_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "workflows.security.client_address"
# Second factor (django-otp, TOTP with recovery codes): always for superusers and administrators (is_staff),
# and for these roles; CERTIFICATION_2FA_ALL_ROLES=true requires it of every user.
CERTIFICATION_2FA_ROLES = env.list("CERTIFICATION_2FA_ROLES", default=["approver", "certificate_officer"])
CERTIFICATION_2FA_ALL_ROLES = env.bool("CERTIFICATION_2FA_ALL_ROLES", default=False)
CERTIFICATION_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = env("CERTIFICATION_2FA_ISSUER", default="Graded certification")
# Sessions: end after CERTIFICATION_SESSION_IDLE_MINUTES without a request, and at most
# CERTIFICATION_SESSION_MAX_HOURS after signing in, whatever happens (0 turns either off); the cookie dies
# with the browser.
CERTIFICATION_SESSION_IDLE_MINUTES = env.int("CERTIFICATION_SESSION_IDLE_MINUTES", default=30)
CERTIFICATION_SESSION_MAX_HOURS = env.int("CERTIFICATION_SESSION_MAX_HOURS", default=8)
SESSION_COOKIE_AGE = (CERTIFICATION_SESSION_MAX_HOURS or 14 * 24) * 60 * 60  # 0 hours: no maximum
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# API tokens: stored as SHA-256 digests, named, several per user, expiring after this many days at most.
CERTIFICATION_API_TOKEN_DAYS = env.int("CERTIFICATION_API_TOKEN_DAYS", default=30)

# --- Language and time ----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "certification" / "locale"]
USE_I18N = True
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Uploads and issued documents: on this host's disk, or, with MEDIA_S3_BUCKET, in an S3-compatible bucket
# shared by every web and worker host (needs the "s3" extra; credentials from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY). The bucket stays private: downloads go through the application's permission checks.
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    MEDIA_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": MEDIA_S3_BUCKET,
        "endpoint_url": env("MEDIA_S3_ENDPOINT_URL", default=None),
        "region_name": env("MEDIA_S3_REGION", default=None),
        "location": env("MEDIA_S3_PREFIX", default="media"),
        "default_acl": "private",
        "file_overwrite": False,
        "querystring_auth": True,
    }}
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024

# --- E-mail ---------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="certification@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# soft limit < hard limit < the broker's visibility timeout, so a killed task is redelivered only after
# its worker is surely gone.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues by kind, so that each kind can have workers of its own on its own hosts (README, "Scaling out"):
# drawing certificates (CPU-bound, WeasyPrint), sending e-mail (waits on the mail server), the sweeps and
# reminders sent by beat. Every queue is declared here, so a worker started without -Q consumes all of them.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in ("celery", "documents", "mail", "sweeps")]
CELERY_TASK_ROUTES = {
    "certification.issue_batch_item": {"queue": "documents"},
    "certification.document_draw": {"queue": "documents"},
    "notifications.send_pending_email": {"queue": "mail"},
    "certification.fire_due_timers": {"queue": "sweeps"},
    "certification.close_due_notices": {"queue": "sweeps"},
    "certification.withdraw_missed_rectifications": {"queue": "sweeps"},
    "certification.lapse_expired_certificates": {"queue": "sweeps"},
    "certification.sweep_oversight_orders": {"queue": "sweeps"},
    "notifications.send_recheck_reminders": {"queue": "sweeps"},
    "notifications.send_rectification_reminders": {"queue": "sweeps"},
    "notifications.send_scoring_reminders": {"queue": "sweeps"},
    "notifications.send_annual_summary_reminders": {"queue": "sweeps"},
}
CELERY_BEAT_SCHEDULE = {
    # Viewflow's database-backed timers (flow.Timer, .OnTimeout) fire from here, every minute.
    "fire-due-timers": {
        "task": "certification.fire_due_timers",
        "schedule": crontab(minute="*"),
    },
    # Deadlines of cases, stored as dated rows and swept every minute.
    "close-due-notices": {
        "task": "certification.close_due_notices",
        "schedule": crontab(minute="*"),
    },
    "withdraw-missed-rectifications": {
        "task": "certification.withdraw_missed_rectifications",
        "schedule": crontab(minute="*"),
    },
    # Spot checks' rectification orders: unanswered ones past their deadline marked overdue (every minute), and
    # the bureau reminded 7 days and 1 day before (each once).
    "sweep-oversight-orders": {
        "task": "certification.sweep_oversight_orders",
        "schedule": crontab(minute="*"),
    },
    # Certificates whose validity ended without a recheck declaration lapse at the start of the next day.
    "lapse-expired-certificates": {
        "task": "certification.lapse_expired_certificates",
        "schedule": crontab(minute=5, hour=0),
    },
    # The e-mail outbox: pending notifications are sent after each commit; this catches what a lost
    # message or an unreachable mail server left behind.
    "send-pending-email": {
        "task": "notifications.send_pending_email",
        "schedule": crontab(minute="*"),
    },
    # Daily reminders, after the lapses; each reminder is recorded once, so a rerun sends nothing twice.
    "send-recheck-reminders": {
        "task": "notifications.send_recheck_reminders",
        "schedule": crontab(minute=15, hour=0),
    },
    "send-rectification-reminders": {
        "task": "notifications.send_rectification_reminders",
        "schedule": crontab(minute=20, hour=0),
    },
    # Members' scoring deadlines end at local midnight: reminders before, the chair and bureau told after.
    "send-scoring-reminders": {
        "task": "notifications.send_scoring_reminders",
        "schedule": crontab(minute=25, hour=0),
    },
    # December 1 and 15 reminders to city bureaus, and overdue summaries flagged to the province.
    "send-annual-summary-reminders": {
        "task": "notifications.send_annual_summary_reminders",
        "schedule": crontab(minute=30, hour=0),
    },
}

# --- Logging --------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# --- The product ----------------------------------------------------------------------------------------
# Uploads accepted as evidence; each is checked for type and size where it is received.
CERTIFICATION_UPLOAD_MAX_BYTES = env.int("CERTIFICATION_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# How long after a register import (certificates already held, from the paper register) it may be withdrawn
# as a whole.
CERTIFICATION_REGISTER_WITHDRAW_DAYS = env.int("CERTIFICATION_REGISTER_WITHDRAW_DAYS", default=30)

# --- REST API (/api/v1/) --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "workflows.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "workflows.api.pagination.Pagination",
    # JSON in, JSON out: a write takes a JSON body; the one upload (a task's file) also takes multipart.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["workflows.api.filters.KnownParametersOnly",
                                "django_filters.rest_framework.DjangoFilterBackend",
                                "workflows.api.filters.StrictOrderingFilter"],
    "DEFAULT_SCHEMA_CLASS": "workflows.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "workflows.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"public": "30/min", "objection": "10/hour", "token": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: the documentation works on an intranet
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "TITLE": "Graded certification API",
    "DESCRIPTION": "Institutions, cases and their timeline, score sheets, public notices and objections, "
                   "certificates and their verification. Every object is checked: another's answers 404.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"CaseKindEnum": "certification.enums.Kind",
                            "SheetKindEnum": "certification.models.sheets.SheetKind",
                            "CertificateStatusEnum": "certification.enums.CertificateStatus",
                            "CaseStageEnum": "certification.models.cases.Stage",
                            "CaseOutcomeEnum": "certification.models.cases.Outcome",
                            "TaskStatusEnum": "workflows.api.tasks.TaskStatus"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "workflows.api.schema.add_error_responses",
                             "workflows.api.schema.add_task_actions"],
}

# --- Design system ----------------------------------------------------------------------------------------
# Bootstrap 5.3 from our own static files (workflows/static/vendor/bootstrap); forms by crispy-forms, lists
# by django-tables2, both with Bootstrap 5's markup.
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"

# --- Response headers -------------------------------------------------------------------------------------
# A strict Content-Security-Policy on every response (django-csp): scripts, styles, images and fonts only from
# our own static files (plus data: images: the QR codes), no inline script or style, no event-handler
# attribute, no plugin, no <base>, forms only to ourselves, no framing by another site. Views that serve a
# document's own HTML (printed with its inline style sheet) or Swagger UI narrow or widen it for themselves.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}}

# Signed certificates and credentials (README, "Signed certificates and credentials"). Bureau private keys are
# stored encrypted with this Fernet key (32 bytes, urlsafe base64: `python -c "from cryptography.fernet import
# Fernet; print(Fernet.generate_key().decode())"`). Production has no default and refuses to start without it.
SIGNING_KEY_ENCRYPTION_KEY = env("SIGNING_KEY_ENCRYPTION_KEY", default="")
# An RFC 3161 time-stamping authority for the PDFs' signatures; empty: the province's own key time-stamps.
CERTIFICATION_TSA_URL = env("CERTIFICATION_TSA_URL", default="")
# How long a bureau's key signs before `manage.py keys rotate` is due (it stays published after, for checking).
CERTIFICATION_SIGNING_KEY_DAYS = env.int("CERTIFICATION_SIGNING_KEY_DAYS", default=3 * 365)
