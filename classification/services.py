"""Classification runs: request, prepare, score chunks, finalize. Every step is safe to run twice.

A run is computed in three steps so that any number of Celery workers can share it:
1. `run_prepare` computes the population's statistics once (the sorted values that percentiles rank
   against) and cuts the population into chunks of `KAM_RECOMPUTE_CHUNK_SIZE` accounts;
2. `run_score_chunk` scores one chunk under the four models and upserts its results on
   (run, account, model), so a redelivered or retried chunk writes nothing twice;
3. `run_finalize`, started by whichever chunk completes the run, applies the 4S capacity rule
   across the population, records segment changes, moves `is_current` to the new results and marks
   the run succeeded, in one transaction.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import date

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from classification import scoring
from classification.metrics import load_metrics, load_percentile_metrics
from classification.models import (
    ACTIVE_RUN_STATUSES,
    ClassificationChunk,
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
    new.save()
    return parameter_set_activate(parameter_set=new) if activate else new


@transaction.atomic
def parameter_set_activate(*, parameter_set: ParameterSet) -> ParameterSet:
    """Make this version the one the next run uses; the previous active one steps down."""
    ParameterSet.objects.filter(model=parameter_set.model, is_active=True).exclude(
        pk=parameter_set.pk
    ).update(is_active=False)
    parameter_set.is_active = True
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
        from classification.tasks import recompute_run

        transaction.on_commit(lambda: recompute_run.delay(run.pk))
    return run, True


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
    """Percentile pools: reused from the latest portfolio run of the same day for a one-account
    run (so it stays fast), otherwise computed from the whole population."""
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


def run_prepare(*, run_id: int) -> list[list[int]]:
    """Fix the run's parameters, population statistics and chunks; return the chunks.

    Idempotent: a second call on a prepared run returns the same chunks.
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
        ClassificationChunk.objects.bulk_create(
            [ClassificationChunk(run=run, index=i, account_ids=ids) for i, ids in enumerate(chunks)]
        )
    return chunks


def _current_segments(account_ids: Iterable[int]) -> dict[str, dict[int, str]]:
    previous: dict[str, dict[int, str]] = {model: {} for model in scoring.MODELS}
    rows = ClassificationResult.objects.filter(
        account_id__in=list(account_ids), is_current=True
    ).values_list("model", "account_id", "segment")
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


def run_score_chunk(
    *, run_id: int, chunk_index: int, account_ids: list[int], worker: str = ""
) -> bool:
    """Score one chunk and upsert its results; True when this call completed the run's chunks."""
    run = ClassificationRun.objects.only("id", "reference_date", "status").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return False
    param_sets = {ps.model: ps for ps in run.parameter_sets.all()}
    metrics = load_metrics(reference_date=run.reference_date, account_ids=account_ids)
    previous = _current_segments(metrics)
    results = scoring.score_all(
        metrics,
        params_by_model={m: ps.parameters for m, ps in param_sets.items()},
        previous_by_model=previous,
        population=_run_population(run_id),
        apply_capacity=False,
    )
    rows = [
        ClassificationResult(
            run_id=run_id,
            account_id=account_id,
            model=model,
            segment=result.segment,
            axes=result.axes,
            flags=sorted(result.flags),
            explanation=[record.to_dict() for record in result.explanation],
            parameter_set=param_sets[model],
        )
        for model, by_account in results.items()
        for account_id, result in by_account.items()
    ]
    with transaction.atomic():
        ClassificationResult.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["run", "account", "model"],
            update_fields=["segment", "axes", "flags", "explanation", "parameter_set"],
        )
        marked = ClassificationChunk.objects.filter(
            run_id=run_id, index=chunk_index, finished_at__isnull=True
        ).update(finished_at=timezone.now(), worker=worker)
        if not marked:  # a redelivered chunk: its results were just rewritten identically
            return False
        ClassificationRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1, updated_at=timezone.now()
        )
        run.refresh_from_db(fields=["chunks_done", "chunks_total"])
        return run.chunks_done == run.chunks_total


def _apply_capacity(run: ClassificationRun) -> None:
    """The 4S capacity rule across the whole level population, not within one chunk."""
    params = scoring.validate_params("four_s", run.parameter_sets.get(model="four_s").parameters)
    in_run = ClassificationResult.objects.filter(run=run, model="four_s", segment="strategic")
    candidates = list(
        in_run.select_related(None).values_list("pk", "account_id", "account__level", "axes")
    )
    if run.scope != PORTFOLIO:
        others = (
            ClassificationResult.objects.filter(
                model="four_s", segment="strategic", is_current=True
            )
            .exclude(account_id__in=in_run.values("account_id"))
            .values_list("pk", "account_id", "account__level", "axes")
        )
        candidates += [(None, acc, level, axes) for _, acc, level, axes in others]
    over = four_s.over_capacity(
        {acc: (level, axes["a"] + axes["b"]) for _, acc, level, axes in candidates},
        params["capacity"],
    )
    flagged = [pk for pk, acc, _, _ in candidates if pk is not None and acc in over]
    to_update = list(ClassificationResult.objects.filter(pk__in=flagged))
    for result in to_update:
        rank, count = over[result.account_id]
        result.flags = sorted({*result.flags, "over_capacity"})
        result.explanation = [
            *result.explanation,
            IndicatorExplanation(
                indicator="capacity",
                raw_value=rank,
                points=None,
                weight=0,
                contribution=0,
                note=f"over capacity: rank {rank} of {count} strategic accounts of this level "
                f"by A + B, capacity {params['capacity']}",
            ).to_dict(),
        ]
    ClassificationResult.objects.bulk_update(to_update, ["flags", "explanation"], batch_size=1000)


def run_finalize(*, run_id: int) -> ClassificationRun:
    """Record changes, make the new results current and mark the run succeeded (idempotent)."""
    with transaction.atomic():
        run = ClassificationRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return run
        _apply_capacity(run)
        new = ClassificationResult.objects.filter(run=run)
        current_segment = ClassificationResult.objects.filter(
            account_id=OuterRef("account_id"), model=OuterRef("model"), is_current=True
        ).values("segment")[:1]
        changed = (
            new.annotate(previous=Subquery(current_segment))
            .exclude(previous__isnull=True)
            .exclude(previous=F("segment"))
            .values_list("account_id", "model", "previous", "segment")
        )
        changes = [
            SegmentChange(
                run=run, account_id=account_id, model=model, previous_segment=prev, segment=seg
            )
            for account_id, model, prev, seg in changed
        ]
        SegmentChange.objects.bulk_create(changes, batch_size=2000, ignore_conflicts=True)
        ClassificationResult.objects.filter(
            is_current=True, account_id__in=new.values("account_id")
        ).update(is_current=False)
        results_count = new.update(is_current=True)
        run.status = RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.results_count = results_count
        run.events_count = len(changes)
        run.save(
            update_fields=["status", "finished_at", "results_count", "events_count", "updated_at"]
        )
    if connection.vendor == "postgresql":
        # Fresh statistics: right after a big run the planner would otherwise misjudge the
        # results table and scan it whole for every chunk of the next run.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ClassificationResult._meta.db_table}")
    logger.info("classification run %s succeeded: %s results", run.pk, results_count)
    return run


def run_fail(*, run_id: int, error: BaseException | str) -> None:
    """Mark a run failed with a readable summary; its partial results never become current."""
    message = str(error)[:2000] or error.__class__.__name__
    ClassificationRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error_summary=message
    )
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
    ClassificationOverride.objects.filter(account=account, model=model, is_active=True).update(
        is_active=False, updated_at=timezone.now()
    )
    override.save()
    return override
