"""Celery tasks: thin wrappers, ids in, one service call each.

`recompute_run` prepares a run and fans its chunks out as a group that any number of workers share;
the chunk that completes the run starts `finalize_run`. Every task is safe to run twice.
"""

from celery import Task, group, shared_task
from django.db import DatabaseError, connection

from classification import services

# The driver's own errors too: a COPY runs on the raw cursor, outside Django's error wrapper, so
# a connection lost there (a database restart) arrives as e.g. psycopg2.OperationalError.
DRIVER_ERRORS = (connection.Database.OperationalError, connection.Database.InterfaceError)


class RunTask(Task):
    """Marks the run failed once a task has given up (after its bounded retries)."""

    autoretry_for = (DatabaseError, ConnectionError, *DRIVER_ERRORS)
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 3
    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        run_id = kwargs.get("run_id", args[0] if args else None)
        if run_id is not None:
            services.run_fail(run_id=run_id, error=f"{self.name}: {exc}")


@shared_task(base=RunTask, name="classification.recompute_run")
def recompute_run(run_id: int) -> int:
    chunks = services.run_prepare(run_id=run_id)
    if not chunks:
        services.run_finalize(run_id=run_id)
        return 0
    group(
        score_chunk.s(run_id, index, account_ids) for index, account_ids in enumerate(chunks)
    ).apply_async()
    return len(chunks)


@shared_task(base=RunTask, bind=True, name="classification.score_chunk")
def score_chunk(self, run_id: int, chunk_index: int, account_ids: list[int]) -> bool:
    completed = services.run_score_chunk(
        run_id=run_id,
        chunk_index=chunk_index,
        account_ids=account_ids,
        worker=self.request.hostname or "",
    )
    if completed:
        finalize_run.delay(run_id)
    return completed


@shared_task(base=RunTask, name="classification.finalize_run")
def finalize_run(run_id: int) -> str:
    return services.run_finalize(run_id=run_id).status


@shared_task(name="classification.nightly_recompute", acks_late=True)
def nightly_recompute() -> int:
    """Scheduled by django-celery-beat (02:00 by default, editable in the admin)."""
    from classification.models import RunTrigger

    run, _ = services.run_request(trigger=RunTrigger.NIGHTLY)
    return run.pk
