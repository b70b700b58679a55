"""Authentication plumbing: API tokens that expire, and the brute-force lockout (django-axes)
answers shared by the dashboard login, the admin login and the API token endpoint."""

import math
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

# --- tokens ---------------------------------------------------------------------------------


def token_is_expired(token: Token, *, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= token.created + settings.KAM_API_TOKEN_TTL


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, refused once the token is older than
    KAM_API_TOKEN_TTL_HOURS: a leaked key stops working by itself."""

    def authenticate_credentials(self, key):
        # DRF's own lookup, with the user's manager profile in the same query: every request
        # of a manager reads it to resolve the portfolio.
        try:
            token = Token.objects.select_related("user__manager").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token_is_expired(token):
            raise exceptions.AuthenticationFailed("Token has expired.")
        return token.user, token


def api_token_issue(*, user) -> Token:
    """The user's current token, or a new key when there is none or it has expired (the
    expired key is deleted, so it can never be used again)."""
    with transaction.atomic():
        token, created = Token.objects.select_for_update().get_or_create(user=user)
        if not created and token_is_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
    return token


# --- lockout --------------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The caller's address for counting failures: REMOTE_ADDR, or behind
    KAM_TRUSTED_PROXY_COUNT reverse proxies the address the outermost of them saw (the proxies
    append to X-Forwarded-For; anything further left is the client's own claim and is
    ignored)."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.KAM_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-count] if len(forwarded) >= count else remote


def lockout_retry_at(request: HttpRequest) -> datetime:
    """When the lock lifts: the cool-off after this (refused) attempt, which axes counts as a
    failure and so restarts the cool-off."""
    attempted = getattr(request, "axes_attempt_time", None) or timezone.now()
    return attempted + settings.AXES_COOLOFF_TIME


def lockout_message(request: HttpRequest) -> str:
    retry_at = timezone.localtime(lockout_retry_at(request))
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return (
        f"Too many failed login attempts: this account is locked for {minutes} minutes from "
        f"this address. Try again after {retry_at:%H:%M} ({retry_at:%Z}), or ask an "
        "administrator to unlock it."
    )


def _retry_after_seconds(request: HttpRequest) -> int:
    return max(1, math.ceil((lockout_retry_at(request) - timezone.now()).total_seconds()))


class LoginLockedOut(exceptions.APIException):
    """The API's lockout answer: 429 with the message and Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self, request: HttpRequest):
        super().__init__(lockout_message(request))
        self.wait = _retry_after_seconds(request)  # DRF's handler turns it into Retry-After


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 with the lockout message, as JSON for the API and as a
    page for the dashboard and the admin; both say when to retry (also in Retry-After)."""
    if request.path.startswith("/api/"):
        if original_response is not None and original_response.status_code == 429:
            return original_response  # the API view's own answer (see AuthTokenApi)
        response = JsonResponse({"detail": lockout_message(request)}, status=429)
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {
                "message": lockout_message(request),
                "retry_at": lockout_retry_at(request),
                "cooloff": settings.AXES_COOLOFF_TIME,
            },
            status=429,
        )
    response["Retry-After"] = str(_retry_after_seconds(request))
    return response
