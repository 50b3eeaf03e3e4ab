"""Settings shared by every environment; each value comes from the environment.

https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from scans.explain.config import DEFAULT_MODEL as EXPLAIN_DEFAULT_MODEL
from scans.explain.config import PRIVACY_MODES as EXPLAIN_PRIVACY_MODES

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime state of the embedded default (database, broker folders, media): never committed.
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.read_env(BASE_DIR / ".env")

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# DATABASES — SQLite by default; DATABASE_URL switches to PostgreSQL.
# https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker both write: WAL lets readers run beside the writer, and
    # IMMEDIATE takes the write lock at BEGIN, so a transaction waits (timeout) instead of
    # failing with "database is locked" when it upgrades from reading to writing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# URLS
# ------------------------------------------------------------------------------
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "axes",
    "accounts",
    "audit",
    "scans",
    "health",
    "idempotency",
    "notifications",
]

# AUTHENTICATION
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling: after AXES_FAILURE_LIMIT failures for one username from one address,
# that pair is locked out for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# How many reverse proxies of ours stand in front of the web process (1 behind the compose TLS
# proxy): the client's address is read that far from the right of X-Forwarded-For, for the
# audit trail and for axes (audit.client). 0 trusts only REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "audit.client.client_address"

# SESSIONS — idle timeout: every request pushes the expiry forward, so a session ends after
# SESSION_IDLE_MINUTES without activity.
# ------------------------------------------------------------------------------
SESSION_COOKIE_AGE = 60 * env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.NoStoreForLoggedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# STATIC AND MEDIA — media is private: there is no MEDIA_URL route, every image goes out
# through a view that checks access (scans.api.files).
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# UPLOADS — limits checked by scans.images before any pixel is decoded.
# ------------------------------------------------------------------------------
SCAN_MAX_UPLOAD_BYTES = env.int("SCAN_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
# The largest slice in the training set is 1920×1080 (2.1 MP), the smallest side 150 px; a
# 4K screenshot (8.3 MP) still fits. 1×1 "images" are refused at upload, not in the worker.
SCAN_MAX_PIXELS = env.int("SCAN_MAX_PIXELS", default=16_000_000)
SCAN_MIN_SIDE = env.int("SCAN_MIN_SIDE", default=64)
# A whole request above this is refused with 413 before Django reads the body.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=50 * 1024 * 1024)
# Larger uploads are spooled to a temporary file instead of being held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Uploads per user through the API (the upload page sends each file there); above it → 429.
UPLOAD_RATE_LIMIT = env("UPLOAD_RATE_LIMIT", default="600/hour")
# Files in one form request (the page's no-JavaScript form); above it → 400.
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=20)
# DICOM (scans.dicom): a file or a zip of a series may be larger than an image, never larger
# than a request; a zip is bounded by its file count and what it unpacks to (zip bombs).
DICOM_MAX_UPLOAD_BYTES = env.int("DICOM_MAX_UPLOAD_BYTES", default=MAX_REQUEST_BYTES - 1024 * 1024)
DICOM_ZIP_MAX_FILES = env.int("DICOM_ZIP_MAX_FILES", default=1000)
DICOM_ZIP_MAX_BYTES = env.int("DICOM_ZIP_MAX_BYTES", default=400 * 1024 * 1024)
DICOM_MAX_SLICES = env.int("DICOM_MAX_SLICES", default=1000)

# SCAN PIPELINE — recovery thresholds are derived from the task time limits (CELERY below).
# ------------------------------------------------------------------------------
# After SCAN_MAX_ATTEMPTS claims a scan fails instead of being tried again.
SCAN_MAX_ATTEMPTS = env.int("SCAN_MAX_ATTEMPTS", default=3)
# How often beat runs the sweep (scans.tasks.sweep_stuck_scans). It is one indexed query,
# safe to run on many machines at once (rows are claimed with SKIP LOCKED).
SCAN_SWEEP_SECONDS = env.int("SCAN_SWEEP_SECONDS", default=10)
# A scan still `queued` (or `classified`, waiting for its explanation) this long after its
# last change has probably lost its broker message (Redis restarted without persistence, or
# the broker was down at upload): it is sent again. A duplicate message is harmless — the
# pipeline's claim makes the second one a no-op — so this can be short.
SCAN_RESEND_AFTER = timedelta(seconds=env.int("SCAN_RESEND_AFTER_SECONDS", default=30))
# Worker heartbeats (health.heartbeat): how often each worker writes one, and how old the
# newest may be before /readyz says the queue has no live worker.
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=10)
WORKER_HEARTBEAT_STALE_AFTER = env.int("WORKER_HEARTBEAT_STALE_AFTER_SECONDS", default=60)

# EXPLANATIONS — Gemini through google-genai, or the offline explainer (scans.explain).
# https://ai.google.dev/gemini-api/docs/api-key
# ------------------------------------------------------------------------------
# No key → every explanation is written offline. The key is read by the worker only.
GEMINI_API_KEY = env("GEMINI_API_KEY", default="") or env("GOOGLE_API_KEY", default="")
GEMINI_MODEL = env("GEMINI_MODEL", default=EXPLAIN_DEFAULT_MODEL)
# A proxy or regional endpoint; empty → Google's public endpoint.
GEMINI_BASE_URL = env("GEMINI_BASE_URL", default="")
# images: the re-encoded scan and the Grad-CAM overlays go to Gemini with the numbers;
# text: the numbers only; off: Gemini is never called. Only with a paid, suitably licensed
# Gemini tier may patient images be sent (docs/explanations.md).
GEMINI_PRIVACY = env("GEMINI_PRIVACY", default="images")
if GEMINI_PRIVACY not in EXPLAIN_PRIVACY_MODES:
    raise ImproperlyConfigured(f"GEMINI_PRIVACY must be one of {', '.join(EXPLAIN_PRIVACY_MODES)}")
# Per attempt, then exponential back-off (base, cap) between attempts; no attempt starts that
# would end after the budget. Defaults keep the whole of it under 2 minutes (RELIABILITY.md 16).
GEMINI_TIMEOUT_SECONDS = env.float("GEMINI_TIMEOUT_SECONDS", default=40.0)
GEMINI_MAX_ATTEMPTS = env.int("GEMINI_MAX_ATTEMPTS", default=4)
GEMINI_BACKOFF_SECONDS = env.float("GEMINI_BACKOFF_SECONDS", default=2.0)
GEMINI_BACKOFF_CAP_SECONDS = env.float("GEMINI_BACKOFF_CAP_SECONDS", default=16.0)
GEMINI_BUDGET_SECONDS = env.float("GEMINI_BUDGET_SECONDS", default=110.0)
# Celery rate limit of explain_scan per worker process, to protect the Gemini quota.
GEMINI_RATE_LIMIT = env("GEMINI_RATE_LIMIT", default="30/m")
# explain_scan's own time limits: the soft one lies above the whole Gemini budget, so the
# budget (not Celery) ends a slow explanation and the offline fallback still gets written.
EXPLAIN_SOFT_TIME_LIMIT = int(GEMINI_BUDGET_SECONDS) + 30
EXPLAIN_TIME_LIMIT = EXPLAIN_SOFT_TIME_LIMIT + 30

# CELERY — https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
# One classification takes about a second (two models: a few); the limits leave room for a
# loaded machine and are short enough that a dead worker's claim is recognised quickly.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=50)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60)
# A `processing` claim older than the hard limit (plus a margin for the commit) belongs to a
# worker that died: the sweep sends the scan again (RELIABILITY.md 22).
SCAN_CLAIM_STALE_AFTER = timedelta(seconds=CELERY_TASK_TIME_LIMIT + 15)
# Redis hands an unacknowledged message (its worker was SIGKILLed) to another worker after
# this long. Above the hard limit, so a live classification is never delivered twice; an
# explanation may run longer (its Gemini budget) and a second delivery of it finds the
# first one's pending row and leaves. The restore sweep runs every 5 s instead of ~100 s.
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 30)
BROKER_DIR = Path(env("BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        # Without timeouts a publish waits forever on a Redis that vanished mid-connection.
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    }
# An upload whose message cannot be sent stays queued for the sweep: fail fast, not after
# Celery's default three retries.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A scan's status and results live on its row; nobody reads Celery results.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Each worker process loads TensorFlow and the models when it starts (scans.tasks), which
# takes far longer than the 4 s Celery waits for a new process by default.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120
CELERY_TASK_DEFAULT_QUEUE = "default"
# Task modules outside an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["scans.reports.tasks"]
CELERY_TASK_ROUTES = {
    "scans.tasks.classify_scan": {"queue": "ml"},
    "scans.tasks.explain_scan": {"queue": "default"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-scans": {
        "task": "scans.tasks.sweep_stuck_scans",
        "schedule": float(SCAN_SWEEP_SECONDS),
        # Sweeps that could not run during an outage are not worth running late, all at once.
        "options": {"expires": float(SCAN_SWEEP_SECONDS)},
    },
    "sweep-upload-batches": {
        "task": "notifications.tasks.sweep_upload_batches",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
}

# EMAIL AND NOTIFICATIONS — one email per finished upload batch (notifications.batches).
# https://docs.djangoproject.com/en/5.2/topics/email/
# EMAIL_URL: consolemail:// (default: printed in the worker's log), or for production
# smtp+tls://user:password@smtp.example.org:587 (django-environ's email_url).
# ------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="MRI triage portal <noreply@localhost>")
# Links in emails point here (a worker has no request to read the host from).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://localhost:8000")
# An upload batch the browser never closed (the tab went away mid-upload) closes after this.
UPLOAD_BATCH_IDLE_CLOSE = timedelta(minutes=env.int("UPLOAD_BATCH_IDLE_CLOSE_MINUTES", default=10))

# CACHE — counts each user's uploads for the upload throttle (accounts.throttles). The default
# lives in each web process, so with several processes each counts on its own; point CACHE_URL
# at Redis (e.g. redis://host:6379/1) and every process and machine shares one count.
# ------------------------------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# REST FRAMEWORK — https://www.django-rest-framework.org/api-guide/settings/
# Only uploads are throttled (accounts.throttles): a client polling a scan every 0.3 s must
# never see 429.
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttles.UploadRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scans.api.errors.exception_handler",
}
# API TOKENS — django-rest-knox: stored as a hash, expire after API_TOKEN_TTL_HOURS, revoked by
# POST /api/v1/auth/token/revoke/ and on a password change or deactivation.
# https://jazzband.github.io/django-rest-knox/settings/
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Brain MRI triage portal API",
    "DESCRIPTION": "Upload brain MRI scans and read their classification. Research use only.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema maps every endpoint: only for logged-in users.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The four class names are one choice set wherever they appear (a prediction's label,
    # a review's corrected label): one enum in the schema.
    "ENUM_NAME_OVERRIDES": {"TumourClassEnum": "scans.models.LABEL_CHOICES"},
}

# LOGGING — log ids only, never a patient's name, MRN or notes.
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# DEMO ACCOUNT — ensured by `manage.py ensure_demo` on every `make run`.
# ------------------------------------------------------------------------------
DEMO_USERNAME = env("DEMO_USERNAME", default="")
DEMO_PASSWORD = env("DEMO_PASSWORD", default="")
