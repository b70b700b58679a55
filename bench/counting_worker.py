"""A Celery worker for the benchmark that also counts and times what each task does.

    .venv/bin/python bench/counting_worker.py worker --pool=solo -n bench1@%h

Same as `.venv/bin/celery -A kam worker ...` (same app, same settings, same tasks), plus, for each
task, one JSON line appended to $BENCH_STATS_FILE:

* the number of SQL statements and the time spent in them (a Django `execute_wrapper` installed
  on every new connection; nothing in the application changes);
* the wall time of the steps of the classification services (prepare: chunking, the population's
  metrics, population statistics, staging the metrics; chunk: reading its staged metrics, current
  segments, scoring, writing the results; finalize: capacity rule and the rest), measured by
  wrapping those functions here.

Bench only: never imported by the application or the test suite.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings.base")

import django  # noqa: E402

django.setup()

from celery.signals import task_postrun, task_prerun  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

from classification import scoring, services  # noqa: E402
from kam.celery import app  # noqa: E402

STATS_FILE = os.environ.get("BENCH_STATS_FILE", str(ROOT / "bench" / ".worker-stats.jsonl"))
UPSERT_MARK = 'INSERT INTO "classification_classificationresult"'

_task: dict = {}


def _reset() -> None:
    _task.clear()
    _task.update(
        statements=0, sql_s=0.0, upsert_statements=0, upsert_sql_s=0.0, phases={}, slowest=[]
    )


_reset()


def _count(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = time.perf_counter() - started
        _task["statements"] += 1
        _task["sql_s"] += elapsed
        slowest = _task["slowest"]
        slowest.append((round(elapsed, 3), sql[:160]))
        slowest.sort(reverse=True)
        del slowest[5:]
        if sql.startswith(UPSERT_MARK):
            _task["upsert_statements"] += 1
            _task["upsert_sql_s"] += elapsed


def _install(sender, connection, **kwargs) -> None:
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


connection_created.connect(_install)


def _timed(name: str, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        statements = _task["statements"]
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            phase = _task["phases"].setdefault(name, [0.0, 0])
            phase[0] += time.perf_counter() - started
            phase[1] += _task["statements"] - statements

    return wrapper


# The services call these through module attributes, so wrapping the attributes times them.
for _name in (
    "load_metrics",
    "load_percentile_metrics",
    "_stage_metrics",
    "_chunk_metrics",
    "_population_chunks",
    "_current_segments",
    "_apply_capacity",
    "_record_segment_changes",
    "_make_current",
    "_write_results",
    "parameter_sets_active",
):
    setattr(services, _name, _timed(_name, getattr(services, _name)))
scoring.score_all = _timed("score_all", scoring.score_all)
scoring.population_stats = _timed("population_stats", scoring.population_stats)


def _memory() -> dict[str, float]:
    """This process's current and peak resident memory in MB (from /proc)."""
    status = Path("/proc/self/status").read_text()
    return {
        key: int(re.search(rf"{name}:\s+(\d+) kB", status).group(1)) / 1024
        for key, name in (("rss_mb", "VmRSS"), ("peak_rss_mb", "VmHWM"))
    }


@task_prerun.connect
def _before(task_id=None, task=None, args=None, kwargs=None, **extra) -> None:
    _reset()
    _task["started"] = time.perf_counter()


@task_postrun.connect
def _after(task_id=None, task=None, args=None, kwargs=None, state=None, **extra) -> None:
    record = {
        "task": task.name if task else "?",
        "args": [a for a in (args or ()) if not isinstance(a, list)],
        "accounts": next((len(a) for a in (args or ()) if isinstance(a, list)), None),
        "state": state,
        "seconds": time.perf_counter() - _task.pop("started", time.perf_counter()),
        "pid": os.getpid(),
        **_memory(),
        **_task,
    }
    with open(STATS_FILE, "a") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    app.worker_main(sys.argv[1:] or ["worker", "--pool=solo"])
