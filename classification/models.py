"""Stored classification: versioned parameters, runs, per-account results, events, overrides."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.models import Account, KamHistory
from kam.db import TimeStampedModel


class KamModel(models.TextChoices):
    WEBSTER = "webster", "Webster"
    MILLMAN_WILSON = "millman_wilson", "Millman-Wilson"
    BENSAOU = "bensaou", "Bensaou"
    FOUR_S = "four_s", "4S"


SEGMENTS: dict[str, tuple[str, ...]] = {
    "webster": (
        "transactional",
        "repeated",
        "long_term",
        "partnership",
        "strategic_alliance",
        "network",
    ),
    "millman_wilson": (
        "pre_kam",
        "early_kam",
        "mid_kam",
        "partnership_kam",
        "synergistic_kam",
        "uncoupling_kam",
    ),
    "bensaou": ("market_exchange", "captive_buyer", "captive_supplier", "strategic_partnership"),
    "four_s": ("strategic", "star", "status", "streamline"),
}


def segment_label(segment: str) -> str:
    """ "uncoupling_kam" -> "Uncoupling KAM", "long_term" -> "Long term"."""
    words = segment.removesuffix("_kam").replace("_", " ").capitalize()
    return f"{words} KAM" if segment.endswith("_kam") else words


class ParameterSet(TimeStampedModel):
    """A versioned parameter mapping for one model. Once a run used it, it never changes."""

    model = models.CharField(max_length=20, choices=KamModel.choices)
    version = models.PositiveIntegerField()
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Overrides of the model's defaults; anything left out keeps the default.",
    )
    is_active = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(blank=True)

    history = KamHistory()

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="parameter_set_version"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(is_active=True), name="one_active_parameter_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_model_display()} v{self.version}" + (
            " (active)" if self.is_active else ""
        )

    @property
    def is_used(self) -> bool:
        return self.pk is not None and self.results.exists()

    def clean(self) -> None:
        from classification.scoring.params import ParameterError, validate_params

        if self.model not in KamModel.values:
            return  # the model field says so; parameters can only be checked against a model
        try:
            validate_params(self.model, self.parameters or {})
        except ParameterError as exc:
            errors = getattr(exc, "errors", None) or {"parameters": str(exc)}
            raise ValidationError(
                {"parameters": [f"{field}: {message}" for field, message in errors.items()]}
            ) from exc
        if self.pk and self.is_used:
            stored = ParameterSet.objects.filter(pk=self.pk).values_list("parameters", "model")
            if stored and stored[0] != (self.parameters, self.model):
                raise ValidationError(
                    "This parameter set has been used by a run and cannot change: "
                    "save your change as a new version."
                )


class RunTrigger(models.TextChoices):
    NIGHTLY = "nightly", "Nightly"
    MANUAL = "manual", "Manual"
    API = "api", "API"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class ClassificationRun(TimeStampedModel):
    """One recompute: of the whole population (scope "portfolio") or of one account."""

    Trigger = RunTrigger
    Status = RunStatus

    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    scope = models.CharField(
        max_length=40, default="portfolio", help_text='"portfolio" or "account:<id>".'
    )
    reference_date = models.DateField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    parameter_sets = models.ManyToManyField(ParameterSet, blank=True, related_name="runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    accounts_total = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    results_count = models.PositiveIntegerField(default=0)
    events_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_summary = models.TextField(blank=True)
    population = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Sorted values of each percentile metric per level, computed once per run.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_scope",
            ),
            models.CheckConstraint(
                condition=Q(chunks_done__lte=models.F("chunks_total")),
                name="run_chunks_done_le_total",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.get_trigger_display()}, {self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if self.status == RunStatus.SUCCEEDED:
            return 100
        if not self.chunks_total:
            return 0
        return int(100 * self.chunks_done / self.chunks_total)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class ClassificationChunk(models.Model):
    """A slice of a run's accounts; `finished_at` makes a redelivered chunk count once."""

    run = models.ForeignKey(ClassificationRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    account_ids = models.JSONField()
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Who scored it.")

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="chunk_unique_per_run")
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} chunk {self.index}"


class ClassificationChunkMetrics(models.Model):
    """Staging: one chunk's metrics, computed for the whole population at once when the run is
    prepared, so that a chunk reads one row instead of querying the transactions again.

    Deleted when the run finishes or fails. UNLOGGED on PostgreSQL (no WAL): after a crash the
    table is empty and a chunk computes its metrics itself. JSON text, not jsonb: it is only
    ever read back whole, and converting to jsonb would cost more than the JSON itself.
    """

    run = models.ForeignKey(ClassificationRun, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    metrics = models.TextField(help_text="JSON: {account id: metrics}.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="chunk_metrics_unique_per_run")
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} chunk {self.index} metrics"


def _is_current() -> models.Exists:
    """Whether a result is its account's current one under its model (indexed on the narrow
    table's (account, model) key)."""
    return models.Exists(
        ClassificationCurrent.objects.filter(
            account_id=models.OuterRef("account_id"),
            model=models.OuterRef("model"),
            result_id=models.OuterRef("pk"),
        )
    )


class ResultQuerySet(models.QuerySet):
    """Results; which are current is read through `ClassificationCurrent`."""

    def current(self) -> "ResultQuerySet":
        """Each account's current result per model."""
        return self.filter(_is_current())

    def not_current(self) -> "ResultQuerySet":
        """Results that are no longer (or never were) their account's current one."""
        return self.exclude(_is_current())

    def with_current(self) -> "ResultQuerySet":
        """Annotate `is_current` in the same query (the API and the admin show it)."""
        return self.annotate(is_current=_is_current())


class ClassificationResult(models.Model):
    """One account under one model in one run. Never updated after the run finishes.

    Which result is current is kept apart, in `ClassificationCurrent`: switching a run's 400k
    results over is then an upsert of narrow rows, not a rewrite of these wide ones.
    """

    # No single-column indexes: (run, account, model) and (account, model, -run) cover both.
    run = models.ForeignKey(
        ClassificationRun, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="classification_results", db_index=False
    )
    model = models.CharField(max_length=20, choices=KamModel.choices)
    segment = models.CharField(max_length=30)
    axes = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    explanation = models.JSONField(default=list)
    parameter_set = models.ForeignKey(
        ParameterSet, null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResultQuerySet.as_manager()

    class Meta:
        ordering = ["account", "model", "-run"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "account", "model"], name="result_unique_per_run"
            ),
        ]
        indexes = [models.Index(fields=["account", "model", "-run"])]

    def __str__(self) -> str:
        return f"{self.account} {self.get_model_display()}: {self.segment}"

    @property
    def segment_label(self) -> str:
        return segment_label(self.segment)


class ClassificationCurrent(models.Model):
    """Each account's current result per model: the latest succeeded run's, switched over by
    `run_finalize` with one upsert. `segment` and `flags` are the result's, copied so that the
    dashboard's alerts filter on them without reading the wide results table.

    Built for that switch: only two indexes (the key and (account, model)), so an update is HOT
    (the table is left half empty on PostgreSQL for it), and no database constraint on `result`,
    whose check would cost ~4 s per 400,000 rows at commit; Django still deletes the row with
    its result, and finalize only ever points it to results of the run it finalizes.
    """

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="current_classifications", db_index=False
    )
    model = models.CharField(max_length=20, choices=KamModel.choices)
    result = models.ForeignKey(
        ClassificationResult,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    segment = models.CharField(max_length=30)
    flags = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "model"], name="current_result_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.model}: result {self.result_id}"


class SegmentChange(models.Model):
    """An account changed segment between two runs: an alert for the dashboard."""

    run = models.ForeignKey(
        ClassificationRun, on_delete=models.CASCADE, related_name="segment_changes"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="segment_changes")
    model = models.CharField(max_length=20, choices=KamModel.choices)
    previous_segment = models.CharField(max_length=30)
    segment = models.CharField(max_length=30)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "account", "model"], name="segment_change_unique_per_run"
            )
        ]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.account} {self.model}: {self.previous_segment} -> {self.segment}"


class ClassificationOverride(TimeStampedModel):
    """A manager's hand-set segment, with the reason; the computed segment stays beside it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="overrides")
    model = models.CharField(max_length=20, choices=KamModel.choices)
    segment = models.CharField(max_length=30)
    reason = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    is_active = models.BooleanField(default=True)

    history = KamHistory()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "model"],
                condition=Q(is_active=True),
                name="one_active_override",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="override_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.model} set to {self.segment}"

    def clean(self) -> None:
        errors = {}
        allowed = SEGMENTS.get(self.model, ())
        if self.segment not in allowed:
            errors["segment"] = f"Choose one of: {', '.join(allowed)}."
        if not (self.reason or "").strip():
            errors["reason"] = "Write why you override the computed segment."
        if errors:
            raise ValidationError(errors)
