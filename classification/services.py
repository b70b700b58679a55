"""Classification runs: request, prepare, score chunks, finalize. Every step is safe to run twice.

A run is computed in three steps so that any number of Celery workers can share it:
1. `run_prepare` cuts the population into chunks of `KAM_RECOMPUTE_CHUNK_SIZE` accounts and, for a
   portfolio run, computes every account's metrics once with set-based passes over the whole
   population (far cheaper than each chunk querying the transactions of its accounts), stages
   them per chunk (`ClassificationChunkMetrics`) and derives the population's statistics (the
   sorted values that percentiles rank against) from them;
2. `run_score_chunk` reads its chunk's staged metrics (or computes them when none are staged),
   scores them under the four models and writes the results in the same transaction that marks
   the chunk done, so a redelivered or retried chunk writes nothing twice;
3. `run_finalize`, started by whichever chunk completes the run, applies the 4S capacity rule
   across the population, records segment changes, switches `ClassificationCurrent` to the new
   results, deletes the staged metrics and marks the run succeeded, in one transaction (set-based
   SQL: a constant number of statements whatever the population). A failed run's staged metrics
   are deleted by `run_fail`.
"""

import gc
import io
import json
import logging
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.history import history_mark
from accounts.models import Account
from classification import scoring
from classification.metrics import (
    load_metrics,
    load_percentile_metrics,
    population_metrics,
)
from classification.models import (
    ACTIVE_RUN_STATUSES,
    ClassificationChunk,
    ClassificationChunkMetrics,
    ClassificationCurrent,
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
    RunStatus,
    SegmentChange,
)
from classification.scoring import IndicatorExplanation, four_s

logger = logging.getLogger(__name__)

PORTFOLIO = "portfolio"


def account_scope(account_id: int) -> str:
    return f"account:{account_id}"


# --- parameter sets --------------------------------------------------------------------------


def parameter_sets_active() -> dict[str, ParameterSet]:
    """The active parameter set of each model; a model without one gets v1 with the defaults."""
    active = {ps.model: ps for ps in ParameterSet.objects.filter(is_active=True)}
    for model in scoring.MODELS:
        if model not in active:
            latest = ParameterSet.objects.filter(model=model).order_by("-version").first()
            version = latest.version + 1 if latest else 1
            active[model], _ = ParameterSet.objects.get_or_create(
                model=model,
                version=version,
                defaults={"is_active": True, "note": "The specification's defaults."},
            )
    return active


@transaction.atomic
def parameter_set_create(
    *, model: str, parameters: dict, author=None, note: str = "", activate: bool = True
) -> ParameterSet:
    """A change of parameters is a new version; the used versions stay as they were."""
    latest = (
        ParameterSet.objects.select_for_update().filter(model=model).order_by("-version").first()
    )
    new = ParameterSet(
        model=model,
        version=(latest.version + 1) if latest else 1,
        parameters=parameters,
        author=author,
        note=note,
        is_active=False,
    )
    new.full_clean()
    history_mark(new, user=author, reason=note or "new version")
    new.save()
    return parameter_set_activate(parameter_set=new, user=author) if activate else new


@transaction.atomic
def parameter_set_activate(*, parameter_set: ParameterSet, user=None) -> ParameterSet:
    """Make this version the one the next run uses; the previous active one steps down.

    Saved one by one (at most one is active per model), so the audit trail records both."""
    previous = ParameterSet.objects.select_for_update().filter(
        model=parameter_set.model, is_active=True
    )
    for old in previous.exclude(pk=parameter_set.pk):
        old.is_active = False
        history_mark(old, user=user, reason=f"replaced by v{parameter_set.version}")
        old.save(update_fields=["is_active", "updated_at"])
    parameter_set.is_active = True
    history_mark(parameter_set, user=user, reason="activated")
    parameter_set.save(update_fields=["is_active", "updated_at"])
    return parameter_set


# --- requesting a run ------------------------------------------------------------------------


def run_request(
    *,
    trigger: str,
    requested_by=None,
    reference_date: date | None = None,
    account: Account | None = None,
    dispatch: bool = True,
) -> tuple[ClassificationRun, bool]:
    """Create a queued run, or return the run already queued or running for the same scope.

    The partial unique constraint `one_active_run_per_scope` is the lock: two requests at once
    cannot both create a run. Returns (run, created). The task starts after the commit.
    """
    scope = account_scope(account.pk) if account is not None else PORTFOLIO
    try:
        with transaction.atomic():
            run = ClassificationRun.objects.create(
                trigger=trigger,
                scope=scope,
                reference_date=reference_date or timezone.localdate(),
                requested_by=requested_by,
            )
    except IntegrityError:
        existing = ClassificationRun.objects.filter(
            scope=scope, status__in=ACTIVE_RUN_STATUSES
        ).first()
        if existing is None:  # it finished in between: ask again
            return run_request(
                trigger=trigger,
                requested_by=requested_by,
                reference_date=reference_date,
                account=account,
                dispatch=dispatch,
            )
        return existing, False
    if dispatch:
        # Outside a transaction (a view) this runs now, so BrokerUnavailable reaches the caller.
        transaction.on_commit(lambda: run_dispatch(run_id=run.pk))
    return run, True


QUEUE_UNAVAILABLE = "The task queue is unavailable; try again shortly."
# A request waits for the broker this long at most: one retry (it replaces a pooled connection
# that a restarted Redis dropped), each attempt bounded by the broker's connect/socket timeouts.
DISPATCH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}


class BrokerUnavailable(Exception):
    """The task queue (Redis) could not take a run; the run (`run_id`) has been marked failed."""

    def __init__(self, message: str, *, run_id: int):
        super().__init__(message)
        self.run_id = run_id


def run_dispatch(*, run_id: int) -> None:
    """Hand a queued run to the workers.

    When the broker cannot be reached (within `KAM_BROKER_CONNECT_TIMEOUT`, one retry), the run
    is marked failed, so it does not hold the one-active-run-per-scope lock and the next request,
    once Redis is back, starts a new run; then BrokerUnavailable is raised for a 503.
    """
    from kombu.exceptions import OperationalError as KombuOperationalError
    from redis.exceptions import RedisError

    from classification.tasks import recompute_run

    if recompute_run.app.conf.task_always_eager:  # no broker: the run executes right here
        recompute_run.delay(run_id)
        return
    try:
        recompute_run.apply_async((run_id,), retry_policy=DISPATCH_RETRY_POLICY)
    except (KombuOperationalError, RedisError, OSError) as exc:
        run_fail(run_id=run_id, error=f"{QUEUE_UNAVAILABLE} ({exc})")
        raise BrokerUnavailable(str(exc), run_id=run_id) from exc


def recompute_account_now(*, account: Account, requested_by=None) -> ClassificationRun:
    """Recompute one account synchronously (fast: one chunk of one account)."""
    run, created = run_request(
        trigger=ClassificationRun.Trigger.MANUAL,
        requested_by=requested_by,
        account=account,
        dispatch=False,
    )
    if created:
        run_execute(run_id=run.pk)
        run.refresh_from_db()
    return run


def run_execute(*, run_id: int, on_chunk: Callable[[int, int], None] | None = None) -> None:
    """Run every step in this process (no broker, or a one-account run).

    `on_chunk(done, total)` is called after each chunk, for a progress bar.
    """
    try:
        chunks = run_prepare(run_id=run_id)
        for index, account_ids in enumerate(chunks):
            run_score_chunk(run_id=run_id, chunk_index=index, account_ids=account_ids)
            if on_chunk is not None:
                on_chunk(index + 1, len(chunks))
        run_finalize(run_id=run_id)
    except Exception as exc:
        run_fail(run_id=run_id, error=exc)
        raise


# --- the steps -------------------------------------------------------------------------------


def _population_chunks(run: ClassificationRun, size: int) -> tuple[int, list[list[int]]]:
    """The run's accounts cut into chunks of about `size`, never splitting a family.

    A global account and its national accounts always land in the same chunk, so Webster's
    `network` type counts the current types of all of a global account's national accounts.
    """
    accounts = Account.objects.exclude(status=Account.Status.LOST)
    if run.scope.startswith("account:"):
        accounts = accounts.filter(pk=int(run.scope.split(":", 1)[1]))
    rows = accounts.annotate(family=Coalesce("parent_id", "id")).order_by("family", "id")
    chunks: list[list[int]] = []
    current: list[int] = []
    last_family = None
    total = 0
    for account_id, family in rows.values_list("id", "family").iterator(chunk_size=10_000):
        if family != last_family and len(current) >= size:
            chunks.append(current)
            current = []
        current.append(account_id)
        last_family = family
        total += 1
    if current:
        chunks.append(current)
    return total, chunks


def _population_for(run: ClassificationRun) -> dict:
    """Percentile pools of a run that stages no metrics (a one-account run): reused from the
    latest portfolio run of the same day (so it stays fast), otherwise computed from the whole
    population."""
    if run.scope != PORTFOLIO:
        latest = (
            ClassificationRun.objects.filter(
                scope=PORTFOLIO, status=RunStatus.SUCCEEDED, reference_date=run.reference_date
            )
            .order_by("-finished_at")
            .values_list("population", flat=True)
            .first()
        )
        if latest:
            return latest
    return scoring.population_stats(load_percentile_metrics(reference_date=run.reference_date))


STAGE_BATCH = 10
"""Chunks' staged metrics inserted per statement (about 1 MB of JSON per chunk of 1,000)."""


def _stage_metrics(run: ClassificationRun, chunks: list[list[int]]) -> dict:
    """Compute the whole population's metrics once, store each chunk's for its task, and return
    the population's statistics (percentile pools) built from the same metrics.

    Account by account (`population_metrics` is lazy) and a few chunks per INSERT, so the worker
    never holds every account's metrics dict or JSON text at once.
    """
    metrics = population_metrics(reference_date=run.reference_date)
    pools: dict[str, dict[str, list[float]]] = {}  # population_stats of all chunks together
    batch = []
    for index, account_ids in enumerate(chunks):
        staged = {pk: metrics[pk] for pk in account_ids if pk in metrics}
        for level, by_metric in scoring.population_stats(staged).items():
            for metric, values in by_metric.items():
                pools.setdefault(level, {}).setdefault(metric, []).extend(values)
        staged_json = orjson.dumps(staged, option=orjson.OPT_NON_STR_KEYS).decode()
        batch.append(ClassificationChunkMetrics(run=run, index=index, metrics=staged_json))
        if len(batch) == STAGE_BATCH:
            ClassificationChunkMetrics.objects.bulk_create(batch)
            batch = []
    if batch:
        ClassificationChunkMetrics.objects.bulk_create(batch)
    for by_metric in pools.values():
        for values in by_metric.values():
            values.sort()
    return pools or scoring.population_stats({})


def _chunk_metrics(run: ClassificationRun, chunk_index: int, account_ids: list[int]) -> dict:
    """The chunk's metrics as staged by `run_prepare`; computed here when none are staged (a
    one-account run, or a database crash emptied the unlogged staging table)."""
    staged = (
        ClassificationChunkMetrics.objects.filter(run_id=run.pk, index=chunk_index)
        .values_list("metrics", flat=True)
        .first()
    )
    if staged is None:
        return load_metrics(reference_date=run.reference_date, account_ids=account_ids)
    return {int(pk): values for pk, values in orjson.loads(staged).items()}


def _unstage_metrics(run_id: int) -> None:
    ClassificationChunkMetrics.objects.filter(run_id=run_id).delete()


def run_prepare(*, run_id: int) -> list[list[int]]:
    """Fix the run's parameters, population statistics and chunks; stage a portfolio run's
    metrics; return the chunks.

    Idempotent: a second call on a prepared run returns the same chunks. The staged metrics
    commit with the chunks, so a prepare killed half-way leaves nothing behind.
    """
    with transaction.atomic():
        run = ClassificationRun.objects.select_for_update().get(pk=run_id)
        chunks = list(
            ClassificationChunk.objects.filter(run=run)
            .order_by("index")
            .values_list("account_ids", flat=True)
        )
        if chunks:
            return chunks
        run.parameter_sets.set(parameter_sets_active().values())
        accounts_total, chunks = _population_chunks(
            run, size=max(1, settings.KAM_RECOMPUTE_CHUNK_SIZE)
        )
        ClassificationChunk.objects.bulk_create(
            [ClassificationChunk(run=run, index=i, account_ids=ids) for i, ids in enumerate(chunks)]
        )
        if run.scope == PORTFOLIO:
            run.population = _stage_metrics(run, chunks)
        else:
            run.population = _population_for(run)
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.accounts_total = accounts_total
        run.chunks_total = len(chunks)
        run.save(
            update_fields=[
                "population",
                "status",
                "started_at",
                "accounts_total",
                "chunks_total",
                "updated_at",
            ]
        )
    return chunks


def _current_segments(account_ids: Iterable[int]) -> dict[str, dict[int, str]]:
    previous: dict[str, dict[int, str]] = {model: {} for model in scoring.MODELS}
    rows = ClassificationCurrent.objects.filter(account_id__in=list(account_ids)).values_list(
        "model", "account_id", "segment"
    )
    for model, account_id, segment in rows:
        previous[model][account_id] = segment
    return previous


_populations: dict[int, dict] = {}


def _run_population(run_id: int) -> dict:
    """The run's percentile pools, decoded once per worker process rather than once per chunk
    (they are fixed when the run is prepared and never change)."""
    if run_id not in _populations:
        _populations.clear()  # one run at a time: keep only the current one
        _populations[run_id] = ClassificationRun.objects.values_list("population", flat=True).get(
            pk=run_id
        )
    return _populations[run_id]


@contextmanager
def _cyclic_gc_paused():
    """Scoring and encoding a chunk allocate some 100,000 short-lived objects that reference
    counting frees (they hold no cycles); meanwhile the cyclic collector would rescan the
    worker's heap again and again for nothing (a quarter of that CPU time, measured)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run_score_chunk(
    *, run_id: int, chunk_index: int, account_ids: list[int], worker: str = ""
) -> bool:
    """Score one chunk and write its results; True when this call completed the run's chunks."""
    run = ClassificationRun.objects.only("id", "reference_date", "status").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return False
    param_sets = {ps.model: ps for ps in run.parameter_sets.all()}
    metrics = _chunk_metrics(run, chunk_index, account_ids)
    previous = _current_segments(metrics)
    with _cyclic_gc_paused():
        results = scoring.score_all(
            metrics,
            params_by_model={m: ps.parameters for m, ps in param_sets.items()},
            previous_by_model=previous,
            population=_run_population(run_id),
            apply_capacity=False,
        )
    with transaction.atomic():
        # Marking the chunk first locks it: a redelivered copy waits here, then finds it done
        # and writes nothing (results and mark commit together).
        marked = ClassificationChunk.objects.filter(
            run_id=run_id, index=chunk_index, finished_at__isnull=True
        ).update(finished_at=timezone.now(), worker=worker)
        if not marked:
            return False
        with _cyclic_gc_paused():
            _write_results(run_id, results, param_sets)
        ClassificationRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1, updated_at=timezone.now()
        )
        run.refresh_from_db(fields=["chunks_done", "chunks_total"])
        return run.chunks_done == run.chunks_total


_RESULT_COLUMNS = (
    "run_id",
    "account_id",
    "model",
    "segment",
    "axes",
    "flags",
    "explanation",
    "parameter_set_id",
    "created_at",
)


def _copy_json(value) -> str:
    """JSON in COPY's text format: orjson (several times faster than json.dumps, and NaN becomes
    null, which jsonb accepts) leaves no tab or newline, only backslashes to escape."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def _write_results(run_id: int, results: dict, param_sets: dict[str, ParameterSet]) -> None:
    """Insert a chunk's results: on PostgreSQL one COPY (JSON dumped once, no model instances
    and no SQL text to build: a third of what `bulk_create` cost), `bulk_create` elsewhere."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        ClassificationResult.objects.bulk_create(
            [
                ClassificationResult(
                    run_id=run_id,
                    account_id=account_id,
                    model=model,
                    segment=result.segment,
                    axes=result.axes,
                    flags=sorted(result.flags),
                    explanation=[record.to_dict() for record in result.explanation],
                    parameter_set=param_sets[model],
                    created_at=now,
                )
                for model, by_account in results.items()
                for account_id, result in by_account.items()
            ],
            batch_size=500,
        )
        return
    created_at = now.isoformat()
    lines = []
    for model, by_account in results.items():
        parameter_set_id = str(param_sets[model].pk)
        for account_id, result in by_account.items():
            lines.append(
                "\t".join(
                    (
                        str(run_id),
                        str(account_id),
                        model,
                        result.segment,
                        _copy_json(result.axes),
                        _copy_json(sorted(result.flags)),
                        _copy_json([record.to_dict() for record in result.explanation]),
                        parameter_set_id,
                        created_at,
                    )
                )
            )
    lines.append("")
    buffer = io.StringIO("\n".join(lines))
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {ClassificationResult._meta.db_table} ({', '.join(_RESULT_COLUMNS)}) FROM STDIN",
            buffer,
        )


def _apply_capacity(run: ClassificationRun) -> None:
    """The 4S capacity rule across the whole level population, not within one chunk."""
    params = scoring.validate_params("four_s", run.parameter_sets.get(model="four_s").parameters)
    in_run = ClassificationResult.objects.filter(run=run, model="four_s", segment="strategic")
    candidates = list(in_run.values_list("pk", "account_id", "account__level", "axes", "flags"))
    if run.scope != PORTFOLIO:
        others = (
            ClassificationResult.objects.current()
            .filter(model="four_s", segment="strategic")
            .exclude(account_id__in=in_run.values("account_id"))
            .values_list("account_id", "account__level", "axes")
        )
        candidates += [(None, acc, level, axes, None) for acc, level, axes in others]
    over = four_s.over_capacity(
        {acc: (level, axes["a"] + axes["b"]) for _, acc, level, axes, _ in candidates},
        params["capacity"],
    )
    notes = {}
    for pk, account_id, _, _, flags in candidates:
        if pk is None or account_id not in over:
            continue
        rank, count = over[account_id]
        note = IndicatorExplanation(
            indicator="capacity",
            raw_value=rank,
            points=None,
            weight=0,
            contribution=0,
            note=f"over capacity: rank {rank} of {count} strategic accounts of this level "
            f"by A + B, capacity {params['capacity']}",
        ).to_dict()
        notes[pk] = (sorted({*flags, "over_capacity"}), note)
    _flag_over_capacity(notes)


def _flag_over_capacity(notes: dict[int, tuple[list[str], dict]]) -> None:
    """Set the flags and append the capacity note: on PostgreSQL one UPDATE that appends to the
    stored explanation in place (no wide row crosses the wire), elsewhere `bulk_update`."""
    if not notes:
        return
    if connection.vendor == "postgresql":
        ids = list(notes)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ClassificationResult._meta.db_table} AS r "  # noqa: S608 - table names from model meta
                "SET flags = v.flags::jsonb, "
                "explanation = r.explanation || jsonb_build_array(v.note::jsonb) "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, flags, note) "
                "WHERE r.id = v.id",
                [
                    ids,
                    [json.dumps(notes[pk][0]) for pk in ids],
                    [json.dumps(notes[pk][1]) for pk in ids],
                ],
            )
        return
    to_update = list(ClassificationResult.objects.filter(pk__in=list(notes)))
    for result in to_update:
        flags, note = notes[result.pk]
        result.flags = flags
        result.explanation = [*result.explanation, note]
    ClassificationResult.objects.bulk_update(to_update, ["flags", "explanation"], batch_size=500)


def _record_segment_changes(run: ClassificationRun) -> int:
    """One SegmentChange per result whose segment differs from the current one (before the
    switch); one INSERT ... SELECT whatever the number of changes."""
    results = ClassificationResult._meta.db_table
    current = ClassificationCurrent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SegmentChange._meta.db_table} "  # noqa: S608 - table names from model meta
            "(run_id, account_id, model, previous_segment, segment, created_at) "
            "SELECT r.run_id, r.account_id, r.model, c.segment, r.segment, %s "
            f"FROM {results} r JOIN {current} c "
            "ON c.account_id = r.account_id AND c.model = r.model "
            "WHERE r.run_id = %s AND c.segment <> r.segment "
            "ON CONFLICT DO NOTHING",
            [connection.ops.adapt_datetimefield_value(timezone.now()), run.pk],
        )
        return max(cursor.rowcount, 0)


def _make_current(run: ClassificationRun) -> int:
    """Switch each (account, model) of the run to its new result: one upsert of narrow rows
    (in key order, so that two finalizing runs lock the rows they share in the same order).
    Returns the number of results switched (inserted or updated rows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ClassificationCurrent._meta.db_table} "  # noqa: S608 - table names from model meta
            "(account_id, model, result_id, segment, flags) "
            "SELECT account_id, model, id, segment, flags "
            f"FROM {ClassificationResult._meta.db_table} WHERE run_id = %s "
            "ORDER BY account_id, model "
            "ON CONFLICT (account_id, model) DO UPDATE "
            "SET result_id = excluded.result_id, segment = excluded.segment, "
            "flags = excluded.flags",
            [run.pk],
        )
        return cursor.rowcount


def run_finalize(*, run_id: int) -> ClassificationRun:
    """Record changes, make the new results current and mark the run succeeded (idempotent)."""
    with transaction.atomic():
        run = ClassificationRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return run
        _apply_capacity(run)
        events_count = _record_segment_changes(run)
        results_count = _make_current(run)
        _unstage_metrics(run.pk)
        run.status = RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.results_count = results_count
        run.events_count = events_count
        run.save(
            update_fields=["status", "finished_at", "results_count", "events_count", "updated_at"]
        )
    if connection.vendor == "postgresql":
        # Fresh statistics: right after a big run the planner would otherwise misjudge the
        # results tables and scan them whole for every chunk of the next run.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ClassificationResult._meta.db_table}")
            cursor.execute(f"ANALYZE {ClassificationCurrent._meta.db_table}")
    logger.info("classification run %s succeeded: %s results", run.pk, run.results_count)
    return run


def run_fail(*, run_id: int, error: BaseException | str) -> None:
    """Mark a run failed with a readable summary; its partial results never become current."""
    message = str(error)[:2000] or error.__class__.__name__
    ClassificationRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error_summary=message
    )
    _unstage_metrics(run_id)
    logger.error("classification run %s failed: %s", run_id, message)


# --- overrides -------------------------------------------------------------------------------


@transaction.atomic
def override_create(
    *, account: Account, model: str, segment: str, reason: str, author=None
) -> ClassificationOverride:
    """Hand-set an account's segment under one model; the previous active override steps down
    (the history stays), and the computed segment is kept beside it."""
    override = ClassificationOverride(
        account=account, model=model, segment=segment, reason=reason, author=author
    )
    # The one-active-override constraint holds once the previous one has stepped down.
    override.full_clean(validate_constraints=False)
    # Saved one by one (at most one is active), so the audit trail records the step down.
    previous = ClassificationOverride.objects.select_for_update().filter(
        account=account, model=model, is_active=True
    )
    for old in previous:
        old.is_active = False
        history_mark(old, user=author, reason="replaced by a new override")
        old.save(update_fields=["is_active", "updated_at"])
    history_mark(override, user=author, reason=reason)
    override.save()
    return override
