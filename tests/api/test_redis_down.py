"""Redis down: pages and the API keep answering, a recompute request is a clear 503 and leaves
nothing blocking, and once Redis is back the next request queues a run that completes.

The broker and the cache point at a private redis-server on its own port, which the test stops
and starts again (the shared Redis is never touched). Transactional: the run is dispatched on
commit, exactly as in production, so the broker error reaches the view.
"""

import socket
import subprocess
import time
from dataclasses import dataclass

import kombu.pools
import pytest
import redis
from django.test import Client

from classification import services
from classification.models import ClassificationRun, RunStatus
from kam.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

RUNS_URL = "/api/v1/classification/runs/"
UNAVAILABLE = "The task queue is unavailable; try again shortly."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PrivateRedis:
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def point_celery_at(url: str | None) -> None:
    """The Celery app read its broker at import (and `CELERY_BROKER_URL` in the environment
    wins over its configuration): publish to `url` instead, with fresh pooled connections."""
    kombu.pools.reset()  # closes and forgets every pooled connection, per broker URL
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_write_url = url


@pytest.fixture
def private_redis(settings):
    server = PrivateRedis(port=free_port())
    server.start()
    settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    point_celery_at(server.url)
    yield server
    server.stop()
    app.conf.task_always_eager = True
    point_celery_at(None)


def test_redis_down_recompute_is_503_reads_work_and_work_resumes(world, private_redis):
    lead = world.client("lead")
    admin = Client()
    admin.force_login(world.users["admin"])

    # Redis up: a run is queued (the message is on the private broker); it completes.
    first = lead.post(RUNS_URL, {}, format="json")
    assert first.status_code == 202, first.content
    assert private_redis.client().llen("celery") == 1
    services.run_execute(run_id=first.json()["id"])

    private_redis.stop()

    # Recompute requests: a clear 503, and the attempt is a failed run that blocks nothing.
    refused = lead.post(RUNS_URL, {}, format="json")
    assert refused.status_code == 503
    assert refused.json() == {"detail": UNAVAILABLE}
    assert refused["Retry-After"] == "30"
    failed = ClassificationRun.objects.latest("pk")
    assert failed.status == RunStatus.FAILED
    assert failed.error_summary.startswith(UNAVAILABLE)
    assert lead.post(RUNS_URL, {}, format="json").status_code == 503  # not "already queued"

    # The dashboard's button (htmx) shows the failed run and why; without htmx, a message.
    htmx = admin.post("/recompute/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    assert b'data-status="failed"' in htmx.content
    assert UNAVAILABLE.encode() in htmx.content
    page = admin.post("/recompute/", follow=True)
    assert page.status_code == 200
    assert UNAVAILABLE in [str(m) for m in page.context["messages"]]
    # The admin's "Recompute now" button.
    changelist = admin.post("/admin/classification/classificationrun/recompute/", follow=True)
    assert changelist.status_code == 200
    assert any(UNAVAILABLE in str(m) for m in changelist.context["messages"])
    assert not ClassificationRun.objects.filter(status__in=["queued", "running"]).exists()

    # Reads keep working (the throttle counters are in the unreachable cache: it fails open).
    assert lead.get("/api/v1/accounts/").status_code == 200
    runs = lead.get(RUNS_URL, {"status": "failed"})
    assert runs.status_code == 200
    assert runs.json()["count"] == 5  # two API attempts, two dashboard ones, the admin's
    assert admin.get("/").status_code == 200
    assert admin.get(f"/accounts/{world.accounts['acc1'].pk}/").status_code == 200
    # One account's recompute runs in the request, without the queue.
    one = lead.post(f"/api/v1/accounts/{world.accounts['acc1'].pk}/recompute/")
    assert one.status_code == 200
    assert one.json()["run"]["status"] == RunStatus.SUCCEEDED
    health = Client().get("/healthz")
    assert health.status_code == 200  # degraded, not down: keep serving behind the balancer
    assert health.json()["status"] == "degraded"
    assert health.json()["database"] == "ok"
    assert health.json()["broker"].startswith("down")
    assert health.json()["cache"].startswith("down")

    # Redis is back: the next request queues a new run, which completes.
    private_redis.start()
    again = lead.post(RUNS_URL, {}, format="json")
    assert again.status_code == 202, again.content
    assert private_redis.client().llen("celery") == 1
    services.run_execute(run_id=again.json()["id"])
    run = ClassificationRun.objects.get(pk=again.json()["id"])
    assert run.status == RunStatus.SUCCEEDED
    assert run.results_count == run.accounts_total * 4
    assert Client().get("/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "cache": "ok",
    }
