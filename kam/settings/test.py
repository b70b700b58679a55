"""Test settings: the suite runs on real PostgreSQL (and Redis where a test needs a broker)."""

import os
import re

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")

from .base import *  # noqa: F403
from .base import database, env

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
DATABASES = {"default": database("postgres://postgres@127.0.0.1:5432/kam")}

# `make test` runs the suite in parallel (pytest-xdist): pytest-django gives each worker its own
# database (test_kam_gw0, test_kam_gw1, ...), and here each worker gets its own pair of Redis
# databases (15/14 for gw0, 13/12 for gw1, ...), so queues, purges and throttle counters of one
# worker never reach another. The URLs go back into the environment because Celery prefers
# CELERY_BROKER_URL from there to its settings, and so that the worker and server processes a
# test starts use the same ones (marked as already shifted for this xdist worker).
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_SHIFT = 0
if os.environ.get("KAM_TEST_REDIS_OF", "") != _XDIST_WORKER:
    _SHIFT = 2 * int(_XDIST_WORKER.removeprefix("gw") or 0)


def _own_redis_db(url: str) -> str:
    return re.sub(r"/(\d+)(?=\?|$)", lambda m: f"/{int(m[1]) - _SHIFT}", url)


CELERY_BROKER_URL = _own_redis_db(env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15"))
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
# The API's throttle counters live in Redis, as in production.
_CACHE_URL = _own_redis_db(env.str("CACHE_URL", default="rediscache://127.0.0.1:6379/14"))
CACHES = {"default": env.cache_url_config(_CACHE_URL)}
os.environ.update(
    CELERY_BROKER_URL=CELERY_BROKER_URL, CACHE_URL=_CACHE_URL, KAM_TEST_REDIS_OF=_XDIST_WORKER
)
# Unit tests run tasks in-process; the end-to-end tests start real worker processes on Redis
# (with KAM_TASKS_EAGER=false in their environment and in the test process that dispatches).
CELERY_TASK_ALWAYS_EAGER = env.bool("KAM_TASKS_EAGER", default=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
