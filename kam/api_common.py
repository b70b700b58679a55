"""Shared building blocks of the REST API: pagination, permissions, errors, schema defaults."""

import logging
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection
from django.db.models import ProtectedError
from rest_framework import exceptions, permissions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler

from accounts.models import AccountManager

logger = logging.getLogger(__name__)

# --- pagination -----------------------------------------------------------------------------


class KamPagination(PageNumberPagination):
    """`page` and `page_size` (1 to 200); answers count, next, previous and results.

    A `page_size` that is not a whole number from 1 to 200 is a 400 (`{"page_size": [...]}`),
    not silently replaced by the default: the caller would get a page of another size than
    asked for without knowing it. The schema documents the range."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = int(raw) if re.fullmatch(r"[0-9]{1,4}", raw) else None
        if size is None or not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Enter a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    def get_page_number(self, request, paginator):
        # An empty `?page=` is no page number (a 404 like `?page=abc`), not the first page.
        number = request.query_params.get(self.page_query_param)
        if number == "":
            return number
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(
                    minimum=1, maximum=self.max_page_size, default=self.page_size
                )
        return parameters


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


def _driver_connection_errors() -> tuple[type[Exception], ...]:
    # Errors of a raw-cursor COPY are the driver's own, not wrapped by Django.
    return (connection.Database.OperationalError, connection.Database.InterfaceError)


def kam_exception_handler(exc, context):
    """DRF's handler, plus: Django's ValidationError, IntegrityError and ProtectedError are 400s
    with field messages, never 500s; a lost database connection is a 503."""
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
    elif isinstance(exc, (OperationalError, InterfaceError, *_driver_connection_errors())):
        # The database went away mid-request (restart, failover): the transaction was rolled
        # back, so nothing was written and the same request can simply be sent again.
        logger.error("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
    elif isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
        # A bare list of messages (e.g. a NUL character in ?search=) still answers in the
        # documented shape: messages keyed by field, here the non-field key.
        exc = exceptions.ValidationError(
            {serializers.api_settings.NON_FIELD_ERRORS_KEY: exc.detail}
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


# --- faults ---------------------------------------------------------------------------------


class TaskQueueUnavailable(exceptions.APIException):
    """The broker (Redis) could not take a recompute: the run was marked failed, so nothing
    blocks the next request, which works again once the broker is back."""

    status_code = 503
    default_detail = "The task queue is unavailable; try again shortly."
    default_code = "task_queue_unavailable"
    wait = 30  # DRF's handler sends it as Retry-After


class DatabaseUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The database is unavailable; nothing was written. Try again shortly."
    default_code = "database_unavailable"
    wait = 10
