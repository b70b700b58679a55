"""Structured logs: a JSON line per request, errors with their traceback, task ids on task logs."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import shared_task
from django.conf import settings as django_settings
from django.test import Client
from django.urls import path
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parents[2]


def broken_view(request):
    raise ZeroDivisionError("the books do not balance")


urlpatterns = [path("broken/", broken_view)]


@shared_task(name="tests.kam.test_logging.logging_task")
def logging_task(run_id: int, note: str = "") -> None:
    logging.getLogger("classification.services").info("working on run %s", run_id)


def build(spec: dict):
    spec = dict(spec)
    return import_string(spec.pop("()"))(**spec)


@pytest.fixture
def json_lines():
    """Everything logged during the test, formatted as in production (KAM_LOG_FORMAT=json)."""
    config = django_settings.LOGGING
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build(config["formatters"]["json"]))
    handler.addFilter(build(config["filters"]["context"]))
    root = logging.getLogger()
    root.addHandler(handler)

    def lines(logger: str | None = None) -> list[dict]:
        parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]

    yield lines
    root.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_logs_one_json_line(client, json_lines, django_user_model):
    user = django_user_model.objects.create_user("logger", password="x")
    client.force_login(user)

    response = client.get("/api/v1/accounts/")

    assert response.status_code == 200
    [line] = json_lines("kam.request")
    assert set(line) == {
        "timestamp",
        "level",
        "logger",
        "message",
        "method",
        "path",
        "status",
        "duration_ms",
        "user_id",
        "request_id",
    }
    assert line["level"] == "INFO"
    assert line["timestamp"].endswith("+00:00")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/accounts/", 200)
    assert line["user_id"] == user.pk
    assert line["duration_ms"] >= 0
    assert line["message"].startswith("GET /api/v1/accounts/ 200 ")
    assert response["X-Request-ID"] == line["request_id"]
    assert len(line["request_id"]) == 32


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("offered", "kept"),
    [("lb-7f3a.91:2", True), ("x" * 65, False), ('"><script>', False), ("", False)],
)
def test_the_request_id_of_the_load_balancer_is_kept_when_sane(client, json_lines, offered, kept):
    response = client.get("/login/", headers={"X-Request-ID": offered})

    [line] = json_lines("kam.request")
    assert (line["path"], line["status"], line["user_id"]) == ("/login/", 200, None)
    assert (line["request_id"] == offered) is kept
    assert response["X-Request-ID"] == line["request_id"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("server", "lines"), [("WSGIServer/0.2", 0), ("gunicorn/23.0.0", 1), ("", 1)]
)
def test_the_request_line_is_debug_only_under_runserver(client, json_lines, server, lines):
    """`runserver` (`make run`) prints a line per request itself: ours is then DEBUG only."""
    response = client.get("/login/", SERVER_SOFTWARE=server)

    assert len(json_lines("kam.request")) == lines
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_error_is_logged_with_its_exception_and_the_request_id(json_lines):
    response = Client(raise_request_exception=False).get("/broken/")

    assert response.status_code == 500
    [request_line] = json_lines("kam.request")
    assert request_line["status"] == 500
    assert request_line["error"] == "ZeroDivisionError: the books do not balance"
    [error] = json_lines("django.request")
    assert error["level"] == "ERROR"
    assert error["message"] == "Internal Server Error: /broken/"
    assert error["status_code"] == 500
    assert "Traceback" in error["exc_info"]
    assert "ZeroDivisionError: the books do not balance" in error["exc_info"]
    assert error["request_id"] == request_line["request_id"]


@pytest.mark.django_db
def test_a_client_error_is_logged_with_the_request_id(client, json_lines):
    client.get("/no-such-page/")

    [request_line] = json_lines("kam.request")
    [warning] = json_lines("django.request")
    assert (request_line["status"], warning["level"]) == (404, "WARNING")
    assert warning["request_id"] == request_line["request_id"]
    client.get("/login/")
    logging.getLogger("kam.test").info("between requests")
    assert "request_id" not in json_lines("kam.test")[0]


@pytest.mark.parametrize(
    ("args", "kwargs"), [((41,), {}), ((), {"run_id": 41, "note": "by keyword"})]
)
def test_task_logs_carry_the_task_and_its_run(json_lines, args, kwargs):
    result = logging_task.apply(args=args, kwargs=kwargs)

    [line] = json_lines("classification.services")
    assert line["message"] == "working on run 41"
    assert line["task_name"] == "tests.kam.test_logging.logging_task"
    assert line["task_id"] == result.id
    assert line["run_id"] == 41
    logging.getLogger("kam.test").info("outside any task")
    assert "task_id" not in json_lines("kam.test")[0]


def test_an_unknown_log_format_is_refused():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "KAM_LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "kam.settings.test"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "KAM_LOG_FORMAT must be plain or json, not 'xml'" in result.stderr
