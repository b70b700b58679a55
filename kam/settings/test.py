"""Test settings: the suite runs on real PostgreSQL (and Redis where a test needs a broker)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")

from .base import *  # noqa: F403
from .base import database, env

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
DATABASES = {"default": database("postgres://postgres@127.0.0.1:5432/kam")}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
# The API's throttle counters live in Redis, as in production.
CACHES = {"default": env.cache("CACHE_URL", default="rediscache://127.0.0.1:6379/14")}
# Unit tests run tasks in-process; the end-to-end tests start real worker processes on Redis
# (with KAM_TASKS_EAGER=false in their environment and in the test process that dispatches).
CELERY_TASK_ALWAYS_EAGER = env.bool("KAM_TASKS_EAGER", default=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
