"""Faults, for real: concurrent recompute requests, a worker killed with SIGKILL mid-chunk, the
database connection lost mid-recompute and mid-import.

"The database restarted" is simulated from the application's side: the job's own server
connections are terminated with `pg_terminate_backend` (what a restart does to every client), found
by their `application_name`. The shared PostgreSQL server is never restarted, and a throwaway
cluster would add ~5 s of initdb to every run for the same client-side effect.

The moment is made exact with a table lock rather than timing: a blocker connection holds
`SHARE ROW EXCLUSIVE` on the table the job is about to write, so the job is provably mid-write
(its backend waits on that lock, with its earlier statements done) when the fault strikes.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
import redis
from django.core.management import call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.models import Account, Transaction
from classification import services
from classification.models import (
    ClassificationChunk,
    ClassificationResult,
    ClassificationRun,
    RunStatus,
)
from classification.scoring import MODELS
from kam.celery import app
from tests.api.test_redis_down import PrivateRedis, free_port, point_celery_at
from tests.e2e import test_worker
from tests.e2e.test_worker import REFERENCE, assert_no_duplicates, wait_for
from tests.factories import AccountFactory, AccountManagerFactory, SalesLeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The worker fixtures of test_worker.py (real `celery -A kam worker` processes, Redis).
broker = test_worker.broker
start_workers = test_worker.start_workers

WORKER_APP = "kam-fault-worker"
IMPORT_APP = "kam-fault-import"
# The killed worker's chunk comes back after this many seconds (instead of an hour).
VISIBILITY = 3


def _connect():
    db = connection.settings_dict
    return psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])


@contextmanager
def table_locked(table: str) -> Iterator[None]:
    """Hold a lock that lets the table be read but not written, until the block ends."""
    blocker = _connect()
    try:
        with blocker.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        yield
    finally:
        blocker.rollback()
        blocker.close()


def wait_until_blocked(application_name: str, timeout: float = 60) -> list[int]:
    """The pids of the named backends once one of them waits on a lock."""
    watcher = _connect()
    watcher.autocommit = True
    deadline = time.monotonic() + timeout
    try:
        with watcher.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = %s AND wait_event_type = 'Lock'",
                    [application_name],
                )
                pids = [pid for (pid,) in cursor.fetchall()]
                if pids:
                    return pids
                assert time.monotonic() < deadline, f"{application_name} never blocked"
                time.sleep(0.05)
    finally:
        watcher.close()


def terminate(application_name: str) -> int:
    """What a database restart does to a client: its server connections end."""
    killer = _connect()
    killer.autocommit = True
    try:
        with killer.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND application_name = %s",
                [application_name],
            )
            return cursor.fetchone()[0]
    finally:
        killer.close()


def _seed(accounts: int) -> int:
    call_command("seed_demo", accounts=accounts, seed=7, reference_date=REFERENCE, verbosity=0)
    return Account.objects.exclude(status=Account.Status.LOST).count()


def _assert_complete(run: ClassificationRun, scored: int) -> None:
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert run.chunks_done == run.chunks_total
    assert ClassificationResult.objects.filter(run=run).count() == scored * len(MODELS)
    assert run.results_count == scored * len(MODELS)
    assert_no_duplicates()


# --- two requests at once ------------------------------------------------------------------


def test_two_recompute_requests_at_once_make_exactly_one_run():
    """The second insert waits on the first's uncommitted row in the partial unique index, then
    gets the first's run: exactly one run, both callers hold it."""
    got: dict[str, object] = {}
    inserted, release = threading.Event(), threading.Event()

    def first() -> None:
        try:
            with transaction.atomic():  # keeps the new run uncommitted until released
                got["first"] = services.run_request(trigger="api", dispatch=False)
                inserted.set()
                release.wait(30)
        finally:
            connection.close()

    def second() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET application_name = 'kam-fault-second'")
            got["second"] = services.run_request(trigger="api", dispatch=False)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert inserted.wait(30)
    threads[1].start()
    wait_until_blocked("kam-fault-second")  # provably at the same time as the first
    release.set()
    for thread in threads:
        thread.join(30)

    (run_a, created_a), (run_b, created_b) = got["first"], got["second"]
    assert (created_a, created_b) == (True, False)
    assert run_a.pk == run_b.pk
    assert ClassificationRun.objects.count() == 1


def test_concurrent_api_recompute_requests_share_one_queued_run(broker):
    lead = SalesLeadFactory().user
    barrier = threading.Barrier(6)
    answers: list[tuple[int, int]] = []

    def post() -> None:
        client = APIClient()
        client.force_authenticate(lead)
        try:
            barrier.wait(10)
            response = client.post("/api/v1/classification/runs/", {}, format="json")
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    app.control.purge()  # no worker here: drop the queued message

    assert ClassificationRun.objects.count() == 1
    run = ClassificationRun.objects.get()
    assert sorted(answers) == [(200, run.pk)] * 5 + [(202, run.pk)]


# --- Redis restarted -----------------------------------------------------------------------


@pytest.fixture
def private_broker(settings, tmp_path):
    """A private redis-server as the broker of this process and of the workers it starts."""
    server = PrivateRedis(port=free_port())
    server.start()
    settings.CELERY_BROKER_URL = server.url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    point_celery_at(server.url)
    workers = test_worker.Workers(server.url, tmp_path, settings)
    yield server, workers
    workers.stop()
    server.stop()
    app.conf.task_always_eager = True
    point_celery_at(None)


def test_redis_restarted_the_worker_reconnects_and_work_resumes(private_broker):
    server, start_workers = private_broker
    scored = _seed(60)
    logs = start_workers(1, chunk_size=40)

    server.stop()
    with pytest.raises(services.BrokerUnavailable):
        services.run_request(trigger="api", reference_date=REFERENCE)
    assert ClassificationRun.objects.get().status == RunStatus.FAILED

    server.start()
    run, created = services.run_request(trigger="api", reference_date=REFERENCE)
    assert created
    _assert_complete(wait_for(run, timeout=120), scored)
    assert "Connection to broker lost" in logs[0].read_text()


# --- a worker killed mid-chunk -------------------------------------------------------------


def test_worker_killed_with_sigkill_mid_chunk_the_run_still_completes(start_workers):
    scored = _seed(150)
    env = {
        "KAM_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "PGAPPNAME": WORKER_APP,
        "PGOPTIONS": "",  # no lock timeout: the chunk waits on the blocker until killed
    }
    queue = redis.Redis.from_url(start_workers.broker)
    queue.delete("unacked", "unacked_index")  # what earlier killed workers left (purge keeps it)
    start_workers(1, chunk_size=40, env=env)

    with table_locked(ClassificationResult._meta.db_table):
        run, _ = services.run_request(trigger="api", reference_date=REFERENCE)
        wait_until_blocked(WORKER_APP)  # a chunk is scored and waits to write its results
        assert not ClassificationChunk.objects.filter(run=run, finished_at__isnull=False).exists()
        start_workers.kill(0)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert run.chunks_total >= 3
    # The killed worker's chunk is held in the broker as delivered but never acknowledged.
    held = queue.zrange("unacked_index", 0, -1, withscores=True)
    assert len(held) == 1
    assert "classification.score_chunk" in queue.hget("unacked", held[0][0]).decode()

    # A worker that starts once the visibility timeout has passed takes that chunk back.
    time.sleep(max(0.0, held[0][1] + VISIBILITY + 0.5 - time.time()))
    start_workers(1, chunk_size=40, env=env)
    run = wait_for(run, timeout=120)

    _assert_complete(run, scored)
    assert queue.hlen("unacked") == 0
    workers = set(ClassificationChunk.objects.filter(run=run).values_list("worker", flat=True))
    assert workers == {next(iter(workers))}  # every chunk, the killed one too, by worker 1
    assert next(iter(workers)).startswith("kamtest1@")


# --- the database lost mid-job -------------------------------------------------------------


def test_database_lost_mid_recompute_the_chunk_retries_and_the_run_succeeds(start_workers):
    scored = _seed(150)
    logs = start_workers(1, chunk_size=40, env={"PGAPPNAME": WORKER_APP, "PGOPTIONS": ""})

    with table_locked(ClassificationResult._meta.db_table):
        run, _ = services.run_request(trigger="api", reference_date=REFERENCE)
        wait_until_blocked(WORKER_APP)
        assert terminate(WORKER_APP) >= 1
    run = wait_for(run, timeout=120)

    _assert_complete(run, scored)
    log = logs[0].read_text()
    assert "retry: Retry in" in log  # the chunk lost its connection and was retried
    assert "OperationalError" in log
    # The next run succeeds too.
    second, created = services.run_request(trigger="manual", reference_date=REFERENCE)
    assert created
    _assert_complete(wait_for(second, timeout=120), scored)


@pytest.mark.urls("tests.api.import_urls")
def test_database_lost_mid_import_is_a_503_nothing_is_written_and_the_resend_succeeds():
    manager = AccountManagerFactory()
    account = AccountFactory(owner=manager)
    rows = [
        {
            "account": account.pk,
            "kind": "sale",
            "date": "2026-03-01",
            "quantity": "2",
            "unit_price": "10.50",
            "currency": "EUR",
            "external_reference": f"F-{number}",
        }
        for number in range(500)
    ]
    client = APIClient()
    client.force_authenticate(manager.user)
    url = "/api/v1/transactions/import/"
    with connection.cursor() as cursor:
        cursor.execute(f"SET application_name = '{IMPORT_APP}'")

    def strike() -> None:
        wait_until_blocked(IMPORT_APP)  # validated, COPYed, waiting to write the rows
        terminate(IMPORT_APP)

    with table_locked(Transaction._meta.db_table):
        killer = threading.Thread(target=strike)
        killer.start()
        lost = client.post(url, rows, format="json")
        killer.join(30)

    assert lost.status_code == 503
    assert lost.json() == {
        "detail": "The database is unavailable; nothing was written. Try again shortly."
    }
    connection.close()  # what the end of a real request does with a broken connection
    assert not Transaction.objects.exists()

    again = client.post(url, rows, format="json")
    assert again.status_code == 201, again.content
    assert again.json()["created"] == 500
    assert Transaction.objects.count() == 500
