"""Production settings: refuse to start without secrets; secure cookies and headers."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import database, env

DEBUG = False
try:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
    DATABASES = {"default": database(None, conn_max_age=60, health_checks=True)}
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(f"Production settings need the environment: {exc}") from exc
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters in production.")
# Short timeouts: a hung Redis must not stall requests (the API's throttles then fail open).
CACHES = {
    "default": env.cache(
        "CACHE_URL",
        default="rediscache://127.0.0.1:6379/1?socket_connect_timeout=1&socket_timeout=1",
    )
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Logs: JSON lines for the log pipeline unless KAM_LOG_FORMAT=plain (see base.py).
LOGGING["handlers"]["console"]["formatter"] = env("KAM_LOG_FORMAT", default="json")  # noqa: F405
