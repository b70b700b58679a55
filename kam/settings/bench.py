"""Benchmark settings (bench/api.py, bench/dashboard.py): production-like, runnable on a laptop.

As production: DEBUG off, persistent database connections with health checks, the cache in
Redis, the security headers. Unlike production, so that it runs locally over plain HTTP: no SSL
redirect, HSTS or secure-only cookies, a fixed bench secret, plain static files (no manifest to
collect), no API throttling (DRF keeps every request's timestamp of the last minute per user in
the cache, so a rate high enough for a load test would itself be the bottleneck), and
bench/urls.py as the URLconf: the application's URLs plus the baseline view. Never used in
production; only databases named kam_bench* are accepted.
"""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-never-used-outside-bench-0123456")

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, database, env

DEBUG = False
SECRET_KEY = "bench-only-secret-key-never-used-outside-bench-0123456"  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "bench.urls"

DATABASES = {
    "default": database(
        "postgres://postgres@127.0.0.1:5432/kam_bench", conn_max_age=60, health_checks=True
    )
}
if not DATABASES["default"]["NAME"].startswith("kam_bench"):
    raise ImproperlyConfigured("The bench settings only run on databases named kam_bench*.")

CACHES = {"default": env.cache("CACHE_URL", default="rediscache://127.0.0.1:6379/9")}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/9")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_ALWAYS_EAGER = False

REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}

SECURE_SSL_REDIRECT = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="WARNING")},
}
