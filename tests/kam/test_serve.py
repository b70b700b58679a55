"""`make serve` for real: scripts/serve.sh on its own database, then Ctrl-C.

The script migrates a fresh database, collects the static files and starts gunicorn, a Celery
worker and beat with kam.settings.production; the test uses them as a load balancer and a user
would, then sends SIGINT as a terminal does and checks that every process it started is gone.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import closing, suppress
from pathlib import Path

import psycopg2
import pytest
import yaml
from celery import Celery
from django.conf import settings as django_settings
from psycopg2 import sql

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRET = "serve-test-only-secret-key-" + "0123456789" * 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_connection():
    db = django_settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres",
        host=db["HOST"],
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"] or None,
    )
    connection.autocommit = True
    return connection


@pytest.fixture
def serve_database() -> str:
    """<configured name>_serve on the test database's server, dropped first so that serve.sh
    creates and migrates it as on a first `make serve`. Left behind, like the test database."""
    db = django_settings.DATABASES["default"]
    configured = os.environ.get("DATABASE_URL", "/kam").split("?")[0].rsplit("/", 1)[-1]
    name = f"{configured}_serve"
    with closing(admin_connection()) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def processes() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has exited; its parent has not collected it yet
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


def descendants(pid: int) -> dict[int, str]:
    table = processes()
    tree, frontier = {}, {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier}
        tree.update({child: table[child][1] for child in frontier})
    return tree


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def json_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_make_serve_runs_everything_and_stops_cleanly_on_ctrl_c(serve_database, tmp_path):
    port = free_port()
    broker = django_settings.CELERY_BROKER_URL
    cache = django_settings.CACHES["default"]["LOCATION"].replace("redis://", "rediscache://", 1)
    worker_name = f"kamserve{port}@{socket.gethostname()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KAM_"))},
        "DJANGO_SECRET_KEY": SECRET,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": serve_database,
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": cache,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "CELERY_CONCURRENCY": "1",
        "CELERY_HOSTNAME": worker_name,
        "KAM_STOP_TIMEOUT": "15",
    }
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "serve.sh")],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # as a terminal's foreground job: Ctrl-C goes to this group
    )
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 90
        while serve.poll() is None and time.monotonic() < deadline:
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert serve.poll() is None, f"serve.sh exited:\n{log.read_text()[-4000:]}"
        status, _, body = get(f"{base}/healthz")
        assert status == 200, body
        assert json.loads(body)["database"] == json.loads(body)["broker"] == "ok"

        # The login page, and one of its static files from whitenoise under its hashed name.
        status, _, page = get(f"{base}/login/")
        assert status == 200
        assets = re.findall(r'/static/[^"]+\.[0-9a-f]{12}\.(?:css|js)', page.decode())
        assert assets, page.decode()[:2000]
        status, headers, asset = get(base + assets[0])
        assert status == 200
        assert asset
        assert "immutable" in headers["Cache-Control"]  # whitenoise: hashed files never change

        # The worker answers a ping and runs a recompute; its logs are JSON lines with the task.
        client = Celery(broker=broker, set_as_current=False)
        deadline = time.monotonic() + 30
        while not client.control.ping(destination=[worker_name], timeout=0.5):
            assert time.monotonic() < deadline, f"no worker:\n{log.read_text()[-4000:]}"
        client.send_task("classification.nightly_recompute")
        deadline = time.monotonic() + 30
        while not (done := [line for line in json_lines(log) if "succeeded:" in line["message"]]):
            assert time.monotonic() < deadline, f"no recompute:\n{log.read_text()[-4000:]}"
            time.sleep(0.3)
        assert done[0]["task_name"] == "classification.recompute_run"
        assert isinstance(done[0]["run_id"], int)

        # What a container's health check runs.
        check = subprocess.run(  # noqa: S603 - our own script
            [str(ROOT / "scripts" / "serve.sh"), "healthcheck"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, check.stderr

        started = descendants(serve.pid)
        commands = list(started.values())
        assert sum("gunicorn" in command for command in commands) == 3  # arbiter + 2 workers
        assert any("celery -A kam worker" in command for command in commands)
        assert any("celery -A kam beat" in command for command in commands)

        os.killpg(serve.pid, signal.SIGINT)
        assert serve.wait(timeout=40) == 0, log.read_text()[-4000:]
        left = {
            pid: command
            for pid, (_, command) in processes().items()
            if started.get(pid) == command  # the same process, not a new one with its pid
            or f"127.0.0.1:{port}" in command
            or worker_name in command
        }
        assert left == {}
    finally:
        # The whole group: a failure before `started` was read must not leave gunicorn or the
        # Celery worker behind (they would keep running after the suite).
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(serve.pid, signal.SIGKILL)
        for pid in started:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        serve.wait(timeout=10)
        print(log.read_text()[-6000:])

    assert "serve: created database" in log.read_text()  # a first run creates its database
    lines = json_lines(log)
    [login] = [line for line in lines if line.get("path") == "/login/"]
    assert (login["logger"], login["method"], login["status"]) == ("kam.request", "GET", 200)
    assert any(line["message"] == "beat: Starting..." for line in lines)
    assert log.read_text().rstrip().endswith("serve: stopped")


def test_compose_runs_what_make_serve_runs():
    """docker-compose.yml cannot be run here (no Docker engine): check what it says instead."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    script = (ROOT / "scripts" / "serve.sh").read_text()
    for name in ("web", "worker", "beat", "migrate"):
        command = services[name]["command"]
        assert command[0] == "scripts/serve.sh"
        assert re.search(rf"^{command[1]}\(\) {{", script, re.MULTILINE), command
    assert services["web"]["healthcheck"]["test"] == ["CMD", "scripts/serve.sh", "healthcheck"]
    environment = compose["x-kam-environment"]
    assert environment["DJANGO_SETTINGS_MODULE"] == "kam.settings.production"
    for required in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"):
        assert required in environment
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert environment["CACHE_URL"].startswith("rediscache://redis:")
    assert all(services[name]["environment"] == environment for name in ("web", "worker", "beat"))
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
