"""Enclave settings, read from the environment.

Embedded default: SQLite and kombu's filesystem broker under ``var/``, so a
bare machine with Python runs everything. ``DATABASE_URL`` and
``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.

DEBUG is off unless ``DJANGO_DEBUG`` turns it on; the production settings
(``DJANGO_SECRET_KEY``, allowed hosts, HTTPS) are in the README's table.
The test suite runs on ``config.settings_test``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ENCLAVE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not true/false (1/0, yes/no, on/off)"
    )


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto=https`` -> ``("HTTP_X_FORWARDED_PROTO", "https")``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    header, sep, expected = value.partition("=")
    header, expected = header.strip(), expected.strip()
    if not sep or not header or not expected:
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected HEADER=VALUE, e.g. X-Forwarded-Proto=https"
        )
    meta = header.upper().replace("-", "_")
    return (meta if meta.startswith("HTTP_") else f"HTTP_{meta}", expected)


# --- Security ----------------------------------------------------------------

# Development turns DEBUG on explicitly; everything else (make run, gunicorn,
# workers) runs with it off and shows the styled error pages.
DEBUG = env_bool("DJANGO_DEBUG", False)
# With DEBUG off there is no fallback: the web server (config/wsgi.py) refuses to
# start without DJANGO_SECRET_KEY. Appliances and workers sign nothing and do
# not need it (an appliance far away should not hold the platform's key).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "enclave-insecure-development-key"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# HTTPS: all off by default (make run serves plain HTTP on loopback); the
# README's Production section lists the values `check --deploy` accepts.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", False)
# Behind a TLS-terminating proxy that sets this header (and strips it from clients).
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("DJANGO_SECURE_PROXY_SSL_HEADER")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "accounts",
    "networks",
    "assets",
    "scans",
    "reports",
    "insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files with DEBUG off too (runserver and gunicorn), before anything
    # that would touch the session or ask for a login.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
    # Pages show times in the user's own zone (User.timezone, default UTC).
    "accounts.middleware.UserTimezoneMiddleware",
    # Last: turns a sign-in refused by django-axes into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # |when: a time in the user's zone, with the zone's name (console/times.py).
            "builtins": ["template_partials.templatetags.partials", "console.times"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.enclave",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'enclave.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and the workers share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory, so worker processes started by end-to-end tests can
    # open the test database too; one per test run, so runs never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# django-axes first: it refuses a locked-out sign-in before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in throttling (django-axes), on the login page, /admin/ and the API token
# endpoint alike. Failures count per username and address: after
# ENCLAVE_LOGIN_FAILURE_LIMIT of them that username is refused from that address
# (colleagues behind the same NAT still sign in), and after
# ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT failures from one address whatever the
# usernames, the address itself (slows an attacker who rotates usernames).
# A lock ends ENCLAVE_LOGIN_COOLOFF_MINUTES after the last failed attempt; a
# successful sign-in clears that username's count. accounts/lockout.py has the
# policy; a Manager unlocks a user on the user's edit page.
AXES_FAILURE_LIMIT = env_int("ENCLAVE_LOGIN_FAILURE_LIMIT", 5)
ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT", 50)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ENCLAVE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = "accounts.lockout.lockout_parameters"
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Behind N reverse proxies (ENCLAVE_PROXY_COUNT=N), the client's address is the
# one the outermost proxy put in X-Forwarded-For; without it every client would
# share the proxy's address and the per-address limit would lock everyone out.
# 0 (the default): REMOTE_ADDR, never a header a client could forge.
ENCLAVE_PROXY_COUNT = env_int("ENCLAVE_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # Refuses "12345678" and other passwords of digits only.
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Refuses passwords too close to the username, e-mail or names ("alice2024" for alice).
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ_NAME", "UTC")
# English only: no catalog is translated, and with translation on every value a
# template prints asks for the active language (pages 10-15 % slower).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `manage.py collectstatic` copies every static file here (make run does it
# before starting); whitenoise serves them from here with hashed names, so
# browsers may cache them forever. With DEBUG on, whitenoise reads the source
# folders instead and URLs are not hashed: no collectstatic in development.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("ENCLAVE_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
# Uploads past this size stream to a temporary file instead of memory (imports
# are result files of hundreds of megabytes; they are never held whole).
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# The largest result file an import accepts (bytes); a larger one is refused
# with its size and this limit named. Default 2 GiB.
ENCLAVE_IMPORT_MAX_BYTES = env_int("ENCLAVE_IMPORT_MAX_BYTES", 2 * 1024**3)

# --- Enclave -----------------------------------------------------------------

# Off: the Networks tab is hidden and everything acts on the Global Default Network.
ENCLAVE_NETWORKS_ENABLED = env_bool("ENCLAVE_NETWORKS_ENABLED", True)
# An appliance whose last heartbeat is older than this is offline.
ENCLAVE_APPLIANCE_OFFLINE_AFTER = int(os.environ.get("ENCLAVE_APPLIANCE_OFFLINE_AFTER", "30"))
ENCLAVE_HEARTBEAT_INTERVAL = int(os.environ.get("ENCLAVE_HEARTBEAT_INTERVAL", "5"))
# A scan is cut into slices of at most this many addresses: progress moves
# slice by slice and a failover repeats little.
ENCLAVE_SLICE_MAX_ADDRESSES = env_int("ENCLAVE_SLICE_MAX_ADDRESSES", 64)
# Slices an appliance runs at once (run_appliance's default --concurrency); the
# platform keeps a couple more in its queue and sends the next as one ends.
ENCLAVE_APPLIANCE_SLICES = env_int("ENCLAVE_APPLIANCE_SLICES", 8)
# Cloud connectors: the Fernet key(s) that seal their credentials (comma separated,
# the first seals: rotation), kept outside the database. Without it connectors
# cannot be given credentials (the form says so); see the README.
ENCLAVE_CONNECTOR_KEY = os.environ.get("ENCLAVE_CONNECTOR_KEY", "").strip()
# Days a terminated or vanished instance's host is kept before it is purged.
ENCLAVE_CLOUD_RETENTION_DAYS = env_int("ENCLAVE_CLOUD_RETENTION_DAYS", 30)
# Reports: the organisation named on every report's cover and running header,
# and its logo (a PNG, JPEG, GIF or SVG file up to 1 MB, read from disk and
# inlined as a data: URL: the PDF renderer fetches no file: URL).
ENCLAVE_ORG_NAME = os.environ.get("ENCLAVE_ORG_NAME", "")
ENCLAVE_ORG_LOGO = os.environ.get("ENCLAVE_ORG_LOGO", "")
# A scheduled report bigger than this (bytes) is e-mailed as a link, not attached.
ENCLAVE_REPORT_MAIL_MAX_BYTES = env_int("ENCLAVE_REPORT_MAIL_MAX_BYTES", 10 * 1024**2)
# Where users reach Enclave: links in e-mails start with it.
ENCLAVE_BASE_URL = os.environ.get("ENCLAVE_BASE_URL", "http://127.0.0.1:8000")

# --- E-mail (scheduled reports) ----------------------------------------------

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "enclave@localhost")

# --- Celery ------------------------------------------------------------------

BROKER_DIR = Path(os.environ.get("ENCLAVE_BROKER_DIR", VAR_DIR / "broker"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "in"),
        "data_folder_out": str(BROKER_DIR / "in"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Fan-out (remote control: cancel reaches a running slice) needs a
        # shared folder too; kombu's default is relative to the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        # kombu polls the folder; 1 s (its default) per hop adds up over a scan.
        "polling_interval": float(os.environ.get("ENCLAVE_BROKER_POLL", "0.1")),
    }
else:
    # Longer than the longest task, so a slow task is not redelivered mid-run.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
    # A key prefix keeps concurrent runs (tests, several installs) on one Redis apart.
    if os.environ.get("ENCLAVE_BROKER_PREFIX"):
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = os.environ["ENCLAVE_BROKER_PREFIX"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "central"
# What `celery -A config worker` consumes when no -Q is given: every central
# queue. An appliance consumes only "appliance.<name>" (run_appliance).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in ("central", "ingest")
]
CELERY_TASK_ROUTES = {
    "scans.tasks.ingest_slice": {"queue": "ingest"},
    "scans.tasks.slice_progress": {"queue": "ingest"},
    "networks.tasks.appliance_heartbeat": {"queue": "ingest"},
    # scans.tasks.run_slice has no route: each slice names its appliance's queue.
}
# Slices of appliances that went offline are sent to another appliance of the
# same network, and waiting slices to an appliance that came online.
CELERY_BEAT_SCHEDULE = {
    "scans-slices-reassign": {
        "task": "scans.tasks.slices_reassign",
        "schedule": float(ENCLAVE_HEARTBEAT_INTERVAL),
    },
    "scans-schedules-run": {"task": "scans.tasks.schedules_run_due", "schedule": 60.0},
    "assets-connectors-run": {"task": "assets.tasks.connectors_run_due", "schedule": 60.0},
    # Today's figures of every network, taken again each hour (and after each scan).
    "insights-trends-snapshot": {"task": "insights.tasks.trends_snapshot_all", "schedule": 3600.0},
    "reports-schedules-run": {"task": "reports.tasks.report_schedules_run_due", "schedule": 60.0},
}
CELERY_TASK_SOFT_TIME_LIMIT = 3 * 3600
CELERY_TASK_TIME_LIMIT = 3 * 3600 + 300
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- REST API ----------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "console.api.Pagination",
    "EXCEPTION_HANDLER": "console.api.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Enclave API",
    "DESCRIPTION": "Vulnerability management across isolated networks with overlapping IP ranges.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and docs need a login like every other page; the Swagger UI
    # files are served from our own static files, never a CDN.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several fields are called "status" or "format"; each enum is named after its choices.
    "ENUM_NAME_OVERRIDES": {
        "ApplianceStatusEnum": "networks.models.ApplianceStatus",
        "DetectionStatusEnum": "scans.models.DetectionStatus",
        "ScanStatusEnum": "scans.models.ScanStatus",
        "ReportStatusEnum": "reports.models.ReportStatus",
        "ImportFormatEnum": "scans.models.ImportFormat",
        "ReportFormatEnum": "reports.models.ReportFormat",
    },
    # Every operation lists the errors it may answer (400, 401, 403, 404, 415).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "console.api.document_errors",
    ],
}

DJANGO_TABLES2_TEMPLATE = "includes/table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Where "/" leads; the first tab users need.
ENCLAVE_HOME_URL = os.environ.get("ENCLAVE_HOME_URL", "insights:dashboard")
