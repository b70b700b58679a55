"""`make run`'s embedded default: the whole app on SQLite, with tasks in-process, served by
`runserver` with one log line per request."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    """The environment of `make run` on a fresh SQLite database with the demo data."""
    database = tmp_path_factory.mktemp("make_run") / "demo.sqlite3"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "DATABASE_", "KAM_LOG_"))
        },
        "DATABASE_URL": f"sqlite:///{database}",
        "CELERY_BROKER_URL": "",
        "DJANGO_SETTINGS_MODULE": "kam.settings.base",
    }
    for step in (
        ("manage.py", "migrate", "--noinput", "-v0"),
        ("manage.py", "seed_demo", "--accounts", "40", "--demo-users", "-v0"),
        ("manage.py", "recompute_scores", "--history", "2"),
    ):
        result = run(*step, env=env)
        assert result.returncode == 0, f"{step}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return env


def test_demo_on_sqlite_serves_every_page(demo_env):
    result = run("-m", "tests.kam.sqlite_smoke", env=demo_env)
    assert result.returncode == 0, f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert "succeeded" in run("manage.py", "recompute_scores", env=demo_env).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_of(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local URL
        response.read()
        return response.status


def test_runserver_prints_one_line_per_request(demo_env, tmp_path):
    """Its own access line; the request log (kam.request) is left to gunicorn (`make serve`)."""
    base = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "runserver.log"
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", "runserver", base.removeprefix("http://"), "--noreload"],
        cwd=ROOT,
        env={**demo_env, "PYTHONUNBUFFERED": "1"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if status_of(f"{base}/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        assert status_of(f"{base}/login/") == 200
        assert status_of(f"{base}/login/?next=/") == 200
        # runserver writes its line once the response is sent; ours came before the response.
        while log.read_text().count('"GET /login/') < 2:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)

    text = log.read_text()
    login_lines = [line for line in text.splitlines() if "/login/" in line]
    assert len(login_lines) == 2, text[-3000:]
    assert all('"GET /login/' in line and '" 200 ' in line for line in login_lines), login_lines
    assert "kam.request" not in text
