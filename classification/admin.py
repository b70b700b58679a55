from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse

from accounts.admin import FieldValueFilter, KamAdmin, KamHistoryAdmin, PortfolioScopedAdmin
from classification import services
from classification.models import (
    SEGMENTS,
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    KamModel,
    ParameterSet,
    RunStatus,
    SegmentChange,
    segment_label,
)


class ReadOnlyAdmin(PortfolioScopedAdmin):
    """Computed rows: browsable and exportable, never edited by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ParameterSet)
class ParameterSetAdmin(KamHistoryAdmin, KamAdmin):
    """Parameters are JSON overrides of the defaults; validation explains every problem.

    The version is numbered on save. A set that a run used cannot change: "Save as new" makes the
    next version, and the "Activate" action switches which version the next run uses.
    """

    list_display = ("model", "version", "is_active", "author", "note", "created_at")
    list_filter = ("model", "is_active")
    search_fields = ("note",)
    fields = ("model", "version", "parameters", "note", "is_active", "author")
    readonly_fields = ("version", "is_active", "author")
    save_as = True
    actions = [*KamAdmin.actions, "activate"]

    def save_model(self, request, obj, form, change):
        if obj.pk is None:
            latest = ParameterSet.objects.filter(model=obj.model).order_by("-version").first()
            obj.version = latest.version + 1 if latest else 1
            obj.author = request.user
            obj.is_active = False
        super().save_model(request, obj, form, change)

    def get_changeform_initial_data(self, request):
        return {"version": 0, **super().get_changeform_initial_data(request)}

    @admin.action(description="Activate the selected parameter set (one per model)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one parameter set.", messages.ERROR)
            return
        chosen = services.parameter_set_activate(parameter_set=queryset.get())
        self.message_user(request, f"{chosen} is now used by the next run.", messages.SUCCESS)


@admin.register(ClassificationRun)
class ClassificationRunAdmin(KamAdmin):
    list_display = (
        "id",
        "trigger",
        "scope",
        "reference_date",
        "status",
        "chunks_done",
        "chunks_total",
        "accounts_total",
        "results_count",
        "events_count",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    date_hierarchy = "created_at"
    exclude = ("population",)
    actions = [*KamAdmin.actions, "mark_failed"]
    change_list_template = "admin/classification/classificationrun/change_list.html"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("population")

    def get_urls(self):
        start = self.admin_site.admin_view(self.start_recompute)
        return [path("recompute/", start, name="classification_run_recompute"), *super().get_urls()]

    def start_recompute(self, request: HttpRequest):
        """POST from the changelist's "Recompute now" button: queue a portfolio run."""
        if request.method == "POST" and request.user.is_superuser:
            try:
                run, created = services.run_request(
                    trigger=ClassificationRun.Trigger.MANUAL, requested_by=request.user
                )
            except services.BrokerUnavailable as exc:
                text = f"Run {exc.run_id} could not start: {services.QUEUE_UNAVAILABLE}"
                self.message_user(request, text, messages.ERROR)
            else:
                verb = "started" if created else f"is already {run.status}"
                self.message_user(request, f"Run {run.pk} {verb}.", messages.SUCCESS)
        elif request.method == "POST":
            self.message_user(request, "Only administrators start a recompute.", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:classification_classificationrun_changelist"))

    @admin.action(description="Mark the selected stuck runs as failed")
    def mark_failed(self, request, queryset):
        stuck = list(queryset.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]))
        for run in stuck:
            services.run_fail(run_id=run.pk, error=f"Marked failed by {request.user} in the admin.")
        self.message_user(request, f"{len(stuck)} run(s) marked failed.", messages.SUCCESS)


class CurrentResultFilter(admin.SimpleListFilter):
    title = "current"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.current()
        if self.value() == "no":
            return queryset.not_current()
        return queryset


class SegmentFilter(FieldValueFilter):
    """The segments of the four models as the spec names them. Django's default filter reads the
    distinct segments of every stored result on each page (130 ms at 760,000 results)."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [
            (segment, f"{segment_label(segment)} ({KamModel(model).label})")
            for model, segments in SEGMENTS.items()
            for segment in segments
        ]


@admin.register(ClassificationResult)
class ClassificationResultAdmin(ReadOnlyAdmin):
    list_display = ("account", "model", "segment", "current", "run", "created_at")
    list_filter = ("model", CurrentResultFilter, SegmentFilter)
    search_fields = ("account__customer__name",)
    list_select_related = ("account__customer", "run")
    autocomplete_fields = ("account",)
    show_full_result_count = False  # one COUNT of the results per page, not two

    def get_queryset(self, request: HttpRequest):
        # A run's population statistics are megabytes of JSON at 100,000 accounts: never once per
        # listed result (50 of them made the page take 4 s). The explanation and axes are read on
        # a result's own page only.
        return (
            super()
            .get_queryset(request)
            .with_current()
            .defer("run__population", "explanation", "axes")
        )

    @admin.display(boolean=True)
    def current(self, obj: ClassificationResult) -> bool:
        return obj.is_current


@admin.register(SegmentChange)
class SegmentChangeAdmin(ReadOnlyAdmin):
    list_display = ("account", "model", "previous_segment", "segment", "run", "created_at")
    list_filter = ("model",)
    search_fields = ("account__customer__name",)
    list_select_related = ("account__customer", "run")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("run__population")  # as for the results


@admin.register(ClassificationOverride)
class ClassificationOverrideAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    list_display = ("account", "model", "segment", "is_active", "author", "created_at")
    list_filter = ("model", "is_active")
    search_fields = ("account__customer__name", "reason")
    list_select_related = ("account__customer", "author")
    autocomplete_fields = ("account", "author")
