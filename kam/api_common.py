"""Shared building blocks of the REST API: pagination, permissions, errors, schema defaults."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from rest_framework import exceptions, permissions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler

from accounts.models import AccountManager

# --- pagination -----------------------------------------------------------------------------


class KamPagination(PageNumberPagination):
    """`page` and `page_size` (up to 200); answers count, next, previous and results."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# --- who is who -----------------------------------------------------------------------------


def manager_of(user) -> AccountManager | None:
    """The caller's manager profile, or None (anonymous, or a user without one)."""
    if not user or not user.is_authenticated:
        return None
    try:
        return user.manager
    except AccountManager.DoesNotExist:
        return None


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_superuser)


def is_sales_lead(user) -> bool:
    manager = manager_of(user)
    return manager is not None and manager.is_sales_lead


class IsAdminOrReadOnly(permissions.BasePermission):
    """Reads for every authenticated caller; writes for admins (superusers) only."""

    message = "Only an administrator may change this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or is_admin(request.user)


class IsAdminForCorrections(permissions.BasePermission):
    """Anyone authenticated may read and create; only admins may update or delete."""

    message = "Only an administrator may correct or delete this; issue a credit note instead."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in ("PUT", "PATCH", "DELETE"):
            return is_admin(request.user)
        return True


# --- errors ---------------------------------------------------------------------------------


def _django_messages(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {
            (serializers.api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): msgs
            for field, msgs in exc.message_dict.items()
        }
    return {serializers.api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


def kam_exception_handler(exc, context):
    """DRF's handler, plus: Django's ValidationError, IntegrityError and ProtectedError are 400s
    with field messages, never 500s."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_messages(exc))
    elif isinstance(exc, IntegrityError):
        exc = exceptions.ValidationError(
            {
                serializers.api_settings.NON_FIELD_ERRORS_KEY: [
                    "This change conflicts with existing data (a unique or consistency rule)."
                ]
            }
        )
    elif isinstance(exc, ProtectedError):
        exc = exceptions.ValidationError(
            {
                serializers.api_settings.NON_FIELD_ERRORS_KEY: [
                    "This object is still referenced and cannot be deleted."
                ]
            }
        )
    return exception_handler(exc, context)


# --- fields ---------------------------------------------------------------------------------


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key limited to what the caller may see: anything else is "not found", the same
    answer as for an id that does not exist (its existence is not revealed)."""

    default_error_messages = {
        "does_not_exist": "Not found: no object with id {pk_value} in your portfolio.",
        "incorrect_type": "Incorrect type. Expected an id, received {data_type}.",
    }

    def __init__(self, *, scope, **kwargs):
        self.scope = scope  # callable(user) -> queryset
        kwargs.setdefault("queryset", scope(None))
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.scope(request.user if request else None)
