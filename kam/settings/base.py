"""Settings shared by every environment, read from the environment (see .env.example).

A laptop needs no variable at all: SQLite in the project folder and tasks run in-process.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A laptop in debug mode may run with a throwaway key; anything else must bring its own.
SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="insecure-dev-key-only-for-local-use" if DEBUG else None
)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (it is required when DJANGO_DEBUG is off).")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_htmx",
    "simple_history",
    "csp",
    "axes",
    "accounts",
    "relationships",
    "classification",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Records who made each change in the audit trail (django-simple-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    # One log line per request (kam/logging.py); outside axes, so a lockout is logged as such.
    "kam.logging.RequestLogMiddleware",
    # Last: turns a lockout detected during authenticate() into the lockout page or JSON.
    "axes.middleware.AxesMiddleware",
]

# AxesStandaloneBackend first: it refuses a locked-out username+IP before any password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.ManagerModelBackend",  # ModelBackend, the manager read with the user
]

ROOT_URLCONF = "kam.urls"
WSGI_APPLICATION = "kam.wsgi.application"

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
            ],
        },
    },
]


def postgres_session(config: dict) -> dict:
    """PostgreSQL session settings for KAM's connections (libpq `options`; PGOPTIONS from the
    environment comes last, so it can override either):

    - `jit=off`: KAM's queries are short, and compiling one whose estimate crosses
      `jit_above_cost` took 45-80 ms under load, more than running it (the portfolio summary,
      issue 6); the recompute's big aggregates run as fast without it.
    - `random_page_cost=1.1`: PostgreSQL's default (4) prices a random read as on a spinning disk,
      so for a portfolio of 1,000 accounts it would scan 120,000 opportunities rather than look
      up the portfolio's through the index (46 -> 3.5 ms; the portfolio page 214 -> 170 ms on
      the bench data set). 1.1 is the usual figure for SSDs or a database that fits in memory.
    """
    if config.get("ENGINE", "").endswith("postgresql"):
        options = config.setdefault("OPTIONS", {})
        # An explicit `options` replaces libpq's PGOPTIONS: keep what the environment sets.
        given = " ".join(filter(None, [options.get("options"), os.environ.get("PGOPTIONS")]))
        options["options"] = f"-c jit=off -c random_page_cost=1.1 {given}".strip()
    return config


def database(default_url: str | None, *, conn_max_age: int = 0, health_checks: bool = False):
    """The `default` database from DATABASE_URL (required when `default_url` is None), with KAM's
    session settings; DJANGO_CONN_MAX_AGE overrides the settings module's `conn_max_age`."""
    url = env.db("DATABASE_URL") if default_url is None else env.db("DATABASE_URL", default_url)
    return postgres_session(url) | {
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": env.int("DJANGO_CONN_MAX_AGE", default=conn_max_age),
        "CONN_HEALTH_CHECKS": health_checks,
    }


DATABASES = {"default": database(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The dashboard shows dates and numbers in the browser's language (Accept-Language, picked by
# LocaleMiddleware among these; anything else gets LANGUAGE_CODE). Django ships their formats.
LANGUAGES = [
    ("en", "English"),
    ("en-gb", "British English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("nl", "Dutch"),
]
TIME_ZONE = env("KAM_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Third-party browser assets come from the npm registry (`npm ci`, see package.json), never copied.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    ("vendor/swagger-ui", BASE_DIR / "node_modules" / "swagger-ui-dist"),
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- Security ------------------------------------------------------------------------------------
# Content Security Policy (django-csp): every script and style comes from our own static files.
# No 'unsafe-inline' anywhere: the dashboard has no inline script, style or event handler,
# htmx's indicator style lives in app.css (base.html turns its injection off), Chart.js sizes its
# canvas through the CSSOM (which CSP allows). The one hash is the <style> block that Django's
# admin change list renders for a model admin without actions (admin/change_list.html), and
# 'unsafe-hashes' lets exactly one style attribute through: `style="border-top: 0"` on the pager
# of django-simple-history's admin History page (simple_history/object_history_list.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": [
            "'self'",
            "'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='",
            "'unsafe-hashes'",
            "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='",
        ],
        # data: images are Swagger UI's CSS icons; an image cannot run script.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Brute-force protection (django-axes): after KAM_LOGIN_FAILURE_LIMIT failed logins for one
# username from one IP address, that pair is refused (429) for KAM_LOGIN_COOLOFF_MINUTES, on the
# dashboard, the admin and the API token endpoint alike. Admins reset it in the admin
# ("Access attempts") or with `manage.py axes_reset_username <name>`.
AXES_FAILURE_LIMIT = env.int("KAM_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("KAM_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.api.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.api.auth.client_ip"
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
KAM_TRUSTED_PROXY_COUNT = env.int("KAM_TRUSTED_PROXY_COUNT", default=0)

# API tokens expire this long after they were issued; POST /api/v1/auth/token/ issues a new one.
KAM_API_TOKEN_TTL = timedelta(hours=env.int("KAM_API_TOKEN_TTL_HOURS", default=24 * 30))

# The API's throttle counters live in this cache: Redis in production (CACHE_URL), so that
# every web process counts together; local memory on a laptop.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- KAM ---------------------------------------------------------------------------------------
KAM_BASE_CURRENCY = env("KAM_BASE_CURRENCY", default="EUR")
KAM_RECOMPUTE_CHUNK_SIZE = env.int("KAM_RECOMPUTE_CHUNK_SIZE", default=1000)

# --- Celery --------------------------------------------------------------------------------------
# Without a broker every task runs in-process (eagerly), so `make run` needs no service.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task a worker took but never acknowledged (the worker was killed) is delivered again after
# this many seconds; keep it above the longest task (CELERY_TASK_TIME_LIMIT).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("KAM_BROKER_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": env.float("KAM_BROKER_CONNECT_TIMEOUT", default=2.0),
    # A hung Redis (accepting connections, never answering) must not hang a request either;
    # above kombu's 1 s BRPOP wait, so idle workers are unaffected.
    "socket_timeout": env.float("KAM_BROKER_SOCKET_TIMEOUT", default=3.0),
}
# Redis down: a recompute request gives up within a few seconds (and answers 503) rather than
# hanging (see classification.services.run_dispatch); workers keep reconnecting until it is back.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("KAM_BROKER_CONNECT_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Runs keep their state in the database; nobody reads task results, and subscribing to them
# would make every dispatch wait ~20 s on the result store when Redis is down.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 1500
CELERY_TASK_TIME_LIMIT = 1800
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "kam.api_schema.KamAutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "accounts.api.filters.KamFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "kam.api_common.KamPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "kam.api_common.kam_exception_handler",
    # Counted in the default cache (CACHE_URL; Redis in production) so every process shares them.
    "DEFAULT_THROTTLE_CLASSES": [
        "kam.throttles.FailOpenAnonRateThrottle",
        "kam.throttles.FailOpenUserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("KAM_API_THROTTLE_ANON", default="60/minute"),
        "user": env("KAM_API_THROTTLE_USER", default="1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KAM API",
    "DESCRIPTION": "Key account management: accounts, transactions, relationships, classification.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (npm), never from a CDN; see kam/api_urls.py.
    "SWAGGER_UI_DIST": f"/{STATIC_URL}vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": f"/{STATIC_URL}vendor/swagger-ui/favicon-32x32.png",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags and operation ids from the path after /api/v1: Swagger UI groups the operations by
    # resource ("accounts", "transactions", ...) and clients name them `accounts_list`.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "accounts.models.Level",
        "KamModelEnum": "classification.models.KamModel",
        "AccountStatusEnum": "accounts.models.AccountStatus",
        "NeedStatusEnum": "relationships.models.CustomerNeedStatus",
        "PlanStatusEnum": "relationships.models.AccountPlanStatus",
        "PlanObjectiveStatusEnum": "relationships.models.PlanObjectiveStatus",
        "PlanActionStatusEnum": "relationships.models.PlanActionStatus",
        "ServiceCaseStatusEnum": "relationships.models.ServiceCaseStatus",
        "RunStatusEnum": "classification.models.RunStatus",
        "TransactionKindEnum": "accounts.models.TransactionKind",
        "InteractionKindEnum": "relationships.models.InteractionKind",
        "InvestmentKindEnum": "relationships.models.RelationshipInvestmentKind",
    },
}

# --- Logging -------------------------------------------------------------------------------------
# Plain lines on a laptop; JSON lines (KAM_LOG_FORMAT=json, the default of production and
# `make serve`) for a log pipeline. Every line carries the request id, or the Celery task and
# classification run, it belongs to; Celery workers and beat log through this too (kam/celery.py).
KAM_LOG_FORMAT = env("KAM_LOG_FORMAT", default="plain")
if KAM_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"KAM_LOG_FORMAT must be plain or json, not {KAM_LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "kam.logging.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "kam.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": KAM_LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
