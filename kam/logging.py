"""Structured logs: one line per request, and the request or task behind every line.

`KAM_LOG_FORMAT=json` (the default of production and `make serve`) writes one JSON object per line
through `JsonFormatter`, for a log pipeline to index; `plain` stays readable on a laptop. The
`ContextFilter` stamps every record, whichever logger made it, with the id of the request being
served or the Celery task being run (and its classification run), so one search finds everything
a request or a run logged across the web and worker processes.
"""

import contextvars
import inspect
import logging
import re
import time
import uuid

from celery._state import get_current_task
from django.core.signals import request_finished, request_started
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kam_request_id", default=None
)

request_logger = logging.getLogger("kam.request")


class JsonFormatter(BaseJsonFormatter):
    """JSON lines: timestamp (UTC, ISO 8601), level, logger, message, then every extra field.

    The `request` extra that Django attaches to its own records is dropped: it is an object whose
    text says nothing that the request line does not say better.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time"])
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict) -> dict:
        return {"timestamp": log_data.pop("timestamp", None), **log_data}


class ContextFilter(logging.Filter):
    """Adds `request_id`, or `task_name`, `task_id` and `run_id`, to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        task = get_current_task()
        if task is not None and task.request.id and not hasattr(record, "task_id"):
            record.task_name = task.name
            record.task_id = task.request.id
            run_id = _run_id(task)
            if run_id is not None:
                record.run_id = run_id
        return True


def _run_id(task) -> int | None:
    """The classification run a task works on: its `run_id` argument, by keyword or position."""
    kwargs = task.request.kwargs or {}
    if "run_id" in kwargs:
        return kwargs["run_id"]
    args = task.request.args or ()
    if args and _first_parameter(task) == "run_id":
        return args[0]
    return None


_first_parameters: dict[str, str | None] = {}


def _first_parameter(task) -> str | None:
    if task.name not in _first_parameters:
        parameters = list(inspect.signature(task.run).parameters)
        _first_parameters[task.name] = parameters[0] if parameters else None
    return _first_parameters[task.name]


class RequestLogMiddleware:
    """One INFO line per request: method, path, status, duration, user and request id.

    Near the end of MIDDLEWARE, so it sees the user and the responses of the views and of the
    middleware inside it. The request id comes from the load balancer's `X-Request-ID` header
    when it is sane, is made up otherwise, and is sent back in the response. `/healthz`, polled
    by load balancers every few seconds, is logged at DEBUG; so is every request that Django's
    development server (`runserver`, `make run`) serves, as it prints its own line for each.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _VALID_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        # Kept until the response is closed (request_finished), so that the warning or error
        # Django's handler logs after the middleware for a 4xx or 5xx carries it too.
        _request_id.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        response[REQUEST_ID_HEADER] = request_id
        quiet = request.path == "/healthz" or _served_by_runserver(request)
        level = logging.DEBUG if quiet else logging.INFO
        if request_logger.isEnabledFor(level):
            fields = {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": _user_id(request),
            }
            error = getattr(request, "_kam_exception", None)
            if error is not None:
                fields["error"] = f"{error.__class__.__name__}: {error}"
            request_logger.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra=fields,
            )
        return response

    def process_exception(self, request, exception):
        """Remember a view's exception for the request line; Django still turns it into a 500."""
        request._kam_exception = exception


def _forget_request_id(**kwargs) -> None:
    _request_id.set(None)


# A new request starts without an id, and nothing logged after one ends carries its id.
request_started.connect(_forget_request_id, dispatch_uid="kam.logging.request_started")
request_finished.connect(_forget_request_id, dispatch_uid="kam.logging.request_finished")


def _served_by_runserver(request) -> bool:
    """Django's development server is built on wsgiref, whose handler names itself so."""
    return request.META.get("SERVER_SOFTWARE", "").startswith("WSGIServer/")


def _user_id(request) -> int | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user.pk
