"""Full recomputes on real Celery worker processes over Redis and PostgreSQL.

The workers are separate processes (`celery -A kam worker`) pointed at the test database, so what
they see is exactly what a deployment sees: committed rows, a real broker, redelivery and retries.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from accounts.models import Account
from classification import services
from classification.models import (
    ClassificationChunk,
    ClassificationResult,
    ClassificationRun,
    RunStatus,
)
from classification.scoring import MODELS
from classification.tasks import recompute_run
from kam.celery import app

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = dt.date(2026, 11, 1)


@pytest.fixture
def broker(settings):
    """Dispatch to Redis for real (not in-process) and start from an empty queue."""
    url = django_settings.CELERY_BROKER_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {url}: {exc}. Run `make services`.")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.control.purge()
    yield url
    app.conf.task_always_eager = True


class Workers:
    """Worker processes on the test database, each in its own process group (so a test can
    SIGKILL a whole worker), numbered across calls (kamtest0, kamtest1, ...)."""

    def __init__(self, broker: str, tmp_path: Path, settings):
        self.broker = broker
        self.tmp_path = tmp_path
        self.settings = settings
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def __call__(self, count: int, chunk_size: int, env: dict | None = None) -> list[Path]:
        """Start `count` workers (extra environment in `env`); return their log files."""
        self.settings.KAM_RECOMPUTE_CHUNK_SIZE = chunk_size  # the same here and in the workers
        db = connection.settings_dict
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "kam.settings.test",
            "KAM_TASKS_EAGER": "false",
            "KAM_RECOMPUTE_CHUNK_SIZE": str(chunk_size),
            "CELERY_BROKER_URL": self.broker,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            # A chunk waiting on a lock gives up quickly and is retried by Celery.
            "PGOPTIONS": "-c lock_timeout=1500",
            **(env or {}),
        }
        started = []
        for _ in range(count):
            index = len(self.processes)
            log = self.tmp_path / f"worker{index}.log"
            process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "kam",
                    "worker",
                    "--pool=solo",
                    f"--hostname=kamtest{index}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=environment,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes.append(process)
            self.logs.append(log)
            started.append((process, log))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(app.control.ping(timeout=1.0)) >= self.alive():
                return [log for _, log in started]
            if any(p.poll() is not None for p, _ in started):
                break
        logs = "\n".join(log.read_text()[-3000:] for _, log in started)
        pytest.fail(f"Celery workers did not come up:\n{logs}")
        return []

    def alive(self) -> int:
        return sum(process.poll() is None for process in self.processes)

    def kill(self, index: int) -> None:
        """SIGKILL the worker's whole process group: no clean shutdown, no acknowledgement."""
        process = self.processes[index]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, log in zip(self.processes, self.logs, strict=True):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            print(f"--- {log.name} ---\n{log.read_text()[-4000:]}")


@pytest.fixture
def start_workers(broker, tmp_path, settings):
    """Start worker processes on the test database; stop them (and show their logs) at the end."""
    workers = Workers(broker, tmp_path, settings)
    yield workers
    workers.stop()


def wait_for(run: ClassificationRun, timeout: float = 240) -> ClassificationRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return run
        time.sleep(0.3)
    pytest.fail(f"Run {run.pk} still {run.status} after {timeout} s ({run.chunks_done} chunks)")
    return run


def assert_no_duplicates() -> None:
    duplicated = (
        ClassificationResult.objects.values("run", "account", "model")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicated.exists()


def test_full_recompute_on_a_worker_with_a_retried_chunk(start_workers):
    call_command("seed_demo", accounts=2000, seed=3, reference_date=REFERENCE, verbosity=0)
    scored = Account.objects.exclude(status=Account.Status.LOST).count()
    logs = start_workers(1, chunk_size=500)

    first, created = services.run_request(trigger="api", reference_date=REFERENCE)
    assert created
    first = wait_for(first)
    assert first.status == RunStatus.SUCCEEDED, first.error_summary
    assert first.accounts_total == scored
    assert first.chunks_done == first.chunks_total >= 4
    assert first.results_count == scored * len(MODELS)
    assert ClassificationResult.objects.count() == scored * len(MODELS)

    # The second run: chunk 1 meets a lock it cannot get, fails once, and is retried by Celery.
    second, _ = services.run_request(trigger="manual", reference_date=REFERENCE, dispatch=False)
    services.run_prepare(run_id=second.pk)
    db = connection.settings_dict
    blocker = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    try:
        with blocker.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM classification_classificationchunk"
                " WHERE run_id = %s AND index = 1 FOR UPDATE",
                [second.pk],
            )
            recompute_run.delay(second.pk)
            deadline = time.monotonic() + 60
            while "retry: Retry in" not in logs[0].read_text():
                assert time.monotonic() < deadline, "chunk 1 was never retried"
                time.sleep(0.2)
    finally:
        blocker.rollback()
        blocker.close()

    second = wait_for(second)
    assert second.status == RunStatus.SUCCEEDED, second.error_summary
    assert second.chunks_done == second.chunks_total == first.chunks_total
    assert ClassificationResult.objects.count() == 2 * scored * len(MODELS)
    assert ClassificationResult.objects.current().count() == scored * len(MODELS)
    assert not ClassificationResult.objects.current().filter(run=first).exists()
    assert_no_duplicates()


def test_two_worker_processes_share_the_chunks(start_workers):
    call_command("seed_demo", accounts=600, seed=5, reference_date=REFERENCE, verbosity=0)
    start_workers(2, chunk_size=40)

    run, _ = services.run_request(trigger="api", reference_date=REFERENCE)
    run = wait_for(run)

    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    scored = Account.objects.exclude(status=Account.Status.LOST).count()
    assert ClassificationResult.objects.count() == scored * len(MODELS)
    workers = set(ClassificationChunk.objects.filter(run=run).values_list("worker", flat=True))
    assert len(workers) == 2, workers
    assert all(name.startswith("kamtest") for name in workers)
    assert_no_duplicates()
