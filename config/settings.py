"""Enclave settings, read from the environment.

Embedded default: SQLite and kombu's filesystem broker under ``var/``, so a
bare machine with Python runs everything. ``DATABASE_URL`` and
``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

import os
from pathlib import Path

import dj_database_url
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ENCLAVE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "enclave-insecure-development-key")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

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
    "accounts",
    "networks",
    "assets",
    "scans",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
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
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("ENCLAVE_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# --- Enclave -----------------------------------------------------------------

# Off: the Networks tab is hidden and everything acts on the Global Default Network.
ENCLAVE_NETWORKS_ENABLED = env_bool("ENCLAVE_NETWORKS_ENABLED", True)
# An appliance whose last heartbeat is older than this is offline.
ENCLAVE_APPLIANCE_OFFLINE_AFTER = int(os.environ.get("ENCLAVE_APPLIANCE_OFFLINE_AFTER", "30"))
ENCLAVE_HEARTBEAT_INTERVAL = int(os.environ.get("ENCLAVE_HEARTBEAT_INTERVAL", "5"))

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
ENCLAVE_HOME_URL = os.environ.get("ENCLAVE_HOME_URL", "assets:host_list")
