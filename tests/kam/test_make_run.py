"""`make run`'s embedded default: the whole app on SQLite, with tasks in-process."""

import os
import subprocess
import sys
from pathlib import Path

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


def test_demo_on_sqlite_serves_every_page(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "DJANGO_SETTINGS_MODULE": "kam.settings.base",
    }
    for step in (
        ("manage.py", "migrate", "--noinput", "-v0"),
        ("manage.py", "seed_demo", "--accounts", "40", "--demo-users", "-v0"),
        ("manage.py", "recompute_scores", "--history", "2"),
        ("-m", "tests.kam.sqlite_smoke"),
    ):
        result = run(*step, env=env)
        assert result.returncode == 0, f"{step}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert "succeeded" in run("manage.py", "recompute_scores", env=env).stdout
