"""`/healthz` for load balancers: the database, the broker (when there is one) and the cache.

Only the database makes the check fail (503). With Redis down a web process still serves pages,
reads and writes (recompute requests answer 503, throttles let requests through), so a load
balancer must keep it in rotation: the check answers 200 with status "degraded" and says what is
down."""

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "down"; the name says why
        return f"down: {exc.__class__.__name__}"
    return "ok"


def _broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "in-process"
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"down: {exc.__class__.__name__}"
    return "ok"


def _cache() -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        found = cache.get(key) == "1"
        cache.delete(key)
    except Exception as exc:
        return f"down: {exc.__class__.__name__}"
    return "ok" if found else "down: not stored"


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database(), "broker": _broker(), "cache": _cache()}
    if checks["database"] != "ok":
        status = "down"
    elif all(value in ("ok", "in-process") for value in checks.values()):
        status = "ok"
    else:
        status = "degraded"
    return JsonResponse({"status": status, **checks}, status=503 if status == "down" else 200)
