"""The API's throttles, kept apart from kam.api_common: REST framework imports the classes named
in its settings while rest_framework.views is being imported, so this module imports nothing that
imports rest_framework.views (a cycle that killed workers at their start-up checks)."""

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _FailOpen:
    """A throttle whose counters live in the cache (Redis) lets the request through when the
    cache cannot be reached: throttling is protection, not a dependency, and the API keeps
    answering with Redis down (the failure is logged, and /healthz reports the cache)."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # any cache backend error: count nothing, let it through
            logger.warning("throttle skipped, cache unavailable: %s", exc)
            return True


class FailOpenAnonRateThrottle(_FailOpen, AnonRateThrottle):
    pass


class FailOpenUserRateThrottle(_FailOpen, UserRateThrottle):
    pass
